// Package koji is a client for the Koji build system's hub: XML-RPC with
// Koji's extensions (<nil/>, <i8>, keyword arguments, multiCall), client
// profiles from the koji INI files, SSL and Kerberos logins, sessions with
// call numbers, retries that follow the hub's fault semantics, and the few
// calls the tagging service makes (tagBuild, moves with fromtag,
// untagBuild, getBuild with getBuildType, listTagged, ...).
//
// Errors from the hub are *Fault values (errors.As(err, &f) with f of type
// *Fault); FaultCode, the Is* helpers and Retryable classify them. Transport
// problems are *TransportError, non-200 answers *HTTPError, TLS refusals
// *TLSError and failed logins *LoginError. Session keys never appear in
// logs or errors.
//
// TagStates, the look before tagBuild, goes through one view of our own
// tagBuild tasks per Client, shared by its callers and refreshed
// incrementally (see view.go), so that what a look costs the hub does not
// grow with the tasks pending.
//
// A Client is safe for concurrent use. Calls that need a session are
// serialised on that session so that its call numbers reach the hub in
// order; a client may hold several sessions (WithSessions) to run that
// many such calls at once. Anonymous calls run in parallel.
package koji
