package koji

import (
	"context"
	"errors"
	"fmt"
)

// Fault codes used by the Koji hub (koji.GenericError and its subclasses).
const (
	CodeUnparsable         = 1 // not a Koji class: the hub could not parse the request
	CodeGenericError       = 1000
	CodeLockError          = 1001
	CodeAuthError          = 1002
	CodeTagError           = 1003
	CodeActionNotAllowed   = 1004
	CodeBuildError         = 1005
	CodeAuthLockError      = 1006
	CodeAuthExpired        = 1007
	CodeSequenceError      = 1008
	CodeRetryError         = 1009
	CodePreBuildError      = 1010
	CodePostBuildError     = 1011
	CodeBuildrootError     = 1012
	CodeFunctionDeprecated = 1013
	CodeServerOffline      = 1014
	CodeLiveCDError        = 1015
	CodePluginError        = 1016
	CodeCallbackError      = 1017
	CodeApplianceError     = 1018
	CodeParameterError     = 1019
	CodeImportError        = 1020
	CodeConfigurationError = 1021
	CodeLiveMediaError     = 1022
	CodeGSSAPIAuthError    = 1023
	CodeNameValidation     = 1024
)

var faultNames = map[int]string{
	CodeGenericError: "GenericError", CodeLockError: "LockError", CodeAuthError: "AuthError",
	CodeTagError: "TagError", CodeActionNotAllowed: "ActionNotAllowed", CodeBuildError: "BuildError",
	CodeAuthLockError: "AuthLockError", CodeAuthExpired: "AuthExpired", CodeSequenceError: "SequenceError",
	CodeRetryError: "RetryError", CodePreBuildError: "PreBuildError", CodePostBuildError: "PostBuildError",
	CodeBuildrootError: "BuildrootError", CodeFunctionDeprecated: "FunctionDeprecated",
	CodeServerOffline: "ServerOffline", CodeLiveCDError: "LiveCDError", CodePluginError: "PluginError",
	CodeCallbackError: "CallbackError", CodeApplianceError: "ApplianceError",
	CodeParameterError: "ParameterError", CodeImportError: "ImportError",
	CodeConfigurationError: "ConfigurationError", CodeLiveMediaError: "LiveMediaError",
	CodeGSSAPIAuthError: "GSSAPIAuthError", CodeNameValidation: "NameValidationError",
}

// Fault is a fault returned by the hub. Errors from this package carry it
// as a pointer: use errors.As(err, &f) with f of type *Fault. Codes outside
// Koji's table (such as 1 for an unparsable request) are kept as they came.
type Fault struct {
	Code   int
	String string
}

// Name returns Koji's exception class name for the code, or "Fault".
func (f *Fault) Name() string {
	if n, ok := faultNames[f.Code]; ok {
		return n
	}
	return "Fault"
}

func (f *Fault) Error() string {
	return fmt.Sprintf("koji %s (%d): %s", f.Name(), f.Code, f.String)
}

// HTTPError is an HTTP status other than 200 from the hub or a proxy in
// front of it, such as 400 "Invalid request" or a 5xx from Apache.
type HTTPError struct {
	StatusCode int
	Status     string
	// Body is the start of the response body, for the operator.
	Body string
}

func (e *HTTPError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("koji hub answered HTTP %s: %s", e.Status, e.Body)
	}
	return "koji hub answered HTTP " + e.Status
}

// TransportError is a failure to reach the hub or to read its answer: the
// request may or may not have been processed.
type TransportError struct {
	Err error
}

func (e *TransportError) Error() string { return "koji transport: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// LoginError is a failed login; Err says why (a fault, a TLS handshake
// failure, a Kerberos error).
type LoginError struct {
	Method string // "ssl" or "kerberos"
	Err    error
}

func (e *LoginError) Error() string { return fmt.Sprintf("koji %s login: %v", e.Method, e.Err) }
func (e *LoginError) Unwrap() error { return e.Err }

// ErrNoCredentials is returned by Login when the client has no way to log in.
var ErrNoCredentials = errors.New("koji: no credentials configured (authtype, cert or keytab)")

// FaultCode returns the code of the *Fault in err's chain, or 0.
func FaultCode(err error) int {
	var f *Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return 0
}

// HasCode reports whether err carries a *Fault with one of codes.
func HasCode(err error, codes ...int) bool {
	c := FaultCode(err)
	if c == 0 {
		return false
	}
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// IsAuthError reports a session or credential problem (AuthError,
// AuthLockError, AuthExpired, GSSAPIAuthError) or a failed login.
func IsAuthError(err error) bool {
	var le *LoginError
	return errors.As(err, &le) || HasCode(err, CodeAuthError, CodeAuthLockError, CodeAuthExpired, CodeGSSAPIAuthError)
}

// IsNotFound reports ErrNotFound (GetBuild, GetTag) or GenericError, which
// Koji uses for unknown tags, builds and methods.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) || HasCode(err, CodeGenericError) }

// IsTagError reports TagError: build not complete, package not in the tag's
// list or blocked, or already tagged.
func IsTagError(err error) bool { return HasCode(err, CodeTagError) }

// IsNotAllowed reports ActionNotAllowed: not logged in, tag locked, missing
// permission or a policy refusal.
func IsNotAllowed(err error) bool { return HasCode(err, CodeActionNotAllowed) }

// IsServerOffline reports that the hub is in maintenance.
func IsServerOffline(err error) bool { return HasCode(err, CodeServerOffline) }

// Retryable reports whether trying the same call again later may succeed:
// transport errors, HTTP 5xx, ServerOffline (1014) and AuthExpired (1007,
// after a new login). Everything else, notably 1000, 1003, 1004 and 1019,
// means the request itself is wrong. A cancelled or expired context is not
// retryable.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var f *Fault
	if errors.As(err, &f) {
		return f.Code == CodeServerOffline || f.Code == CodeAuthExpired
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.StatusCode >= 500
	}
	var te *TransportError
	return errors.As(err, &te)
}
