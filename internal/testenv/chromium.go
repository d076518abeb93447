package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// ChromiumAvailable reports whether the browser is installed.
func ChromiumAvailable() error {
	_, err := os.Stat(ChromiumPath)
	return err
}

// Chromium starts a headless Chromium of the test's own (a new, empty
// profile; no background traffic) and returns a context for driving a
// tab of it with chromedp. The browser stops when the test ends. A
// missing browser is Missing.
func Chromium(tb testing.TB) context.Context {
	tb.Helper()
	if err := ChromiumAvailable(); err != nil {
		Missing(tb, "chromium: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(tb.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(tb.Logf))
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now, so that a browser that cannot start fails
	// here rather than in the test's first action.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("starting chromium: %v", err)
	}
	return ctx
}
