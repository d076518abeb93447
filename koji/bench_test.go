package koji_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// BenchmarkTagBuild measures one tagBuild round trip (session headers,
// XML-RPC encoding, HTTPS on loopback, decoding) against the stand-in hub.
func BenchmarkTagBuild(b *testing.B) {
	hub := kojitest.New(b, kojitest.WithTaskDelay(time.Hour))
	hub.AddTag(tagName)
	hub.AddPackage(tagName, "nodejs")
	hub.AddBuild(kojitest.Build{NVR: nvr})
	c, err := koji.New(&koji.Config{
		Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"),
		Timeout: 10 * time.Second, MaxRetries: 0,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Login(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetBuild measures an anonymous getBuild of a module build.
func BenchmarkGetBuild(b *testing.B) {
	hub := kojitest.New(b)
	hub.AddBuild(kojitest.Build{NVR: nvr, Module: &kojitest.Module{Name: "nodejs", Stream: "20", Version: "1", Context: "c", ModulemdStr: "document: modulemd\n"}})
	c, err := koji.New(&koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetBuild(ctx, nvr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTagStates measures the look at the hub the service makes
// before tagBuild: one multiCall with the refresh of the client's view of
// our tagBuild tasks (those created since the last one, and the counts
// below it), the tag and build ids and the build's tag listing, for a
// module build and its -devel twin into one tag, with pending tasks of
// ours for other builds on the hub (pending=N) as a busy service has.
// look=first is an event's first look, at builds the client has not seen
// (their getBuild answers carry a modulemd document of about 2 KB);
// look=again is the look after tagBuild, at the same builds, whose ids
// the client remembers. One look at a time: looks made at the same moment
// share the refresh and its request.
func BenchmarkTagStates(b *testing.B) {
	// More builds than the client remembers ids of, so that each first
	// look asks for its builds.
	const builds = 5000
	modulemd := "document: modulemd\nversion: 2\ndata:\n  artifacts:\n    rpms:\n" +
		strings.Repeat("      - nodejs-1:20.1.0-1.module_f39+12345+abcdef01.x86_64\n", 36)
	for _, pending := range []int{0, 16, 256} {
		for _, look := range []string{"first", "again"} {
			b.Run(fmt.Sprintf("pending=%d/look=%s", pending, look), func(b *testing.B) {
				hub := kojitest.New(b, kojitest.WithTaskDelay(time.Hour))
				hub.AddTag(tagName)
				hub.AddPackage(tagName, "nodejs")
				hub.AddPackage(tagName, "nodejs-devel")
				targets := make([][]koji.TagTarget, builds)
				for i := range targets {
					n := fmt.Sprintf("nodejs-20-%d.c", i)
					d := fmt.Sprintf("nodejs-devel-20-%d.c", i)
					for _, v := range []string{n, d} {
						hub.AddBuild(kojitest.Build{NVR: v, Module: &kojitest.Module{Name: "nodejs", Stream: "20", Version: "1", Context: "c", ModulemdStr: modulemd}})
					}
					targets[i] = []koji.TagTarget{{Tag: tagName, NVR: n}, {Tag: tagName, NVR: d}}
				}
				c, err := koji.New(&koji.Config{
					Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"), Timeout: 10 * time.Second,
				})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				ctx := context.Background()
				for i := range pending {
					if _, err := c.TagBuild(ctx, tagName, targets[builds-1-i][0].NVR); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := c.TagStates(ctx, targets[0]); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					t := targets[0]
					if look == "first" {
						i = (i + 1) % (builds - pending)
						t = targets[i]
					}
					if _, err := c.TagStates(ctx, t); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
