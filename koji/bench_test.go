package koji_test

import (
	"context"
	"fmt"
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

// BenchmarkTagStates measures the look at the hub the service makes once
// per event before tagBuild: one multiCall with our pending tagBuild
// tasks, the tag and build ids and the build's tag listing, for a build
// and its -devel twin into one tag, with pending tasks of ours on the hub
// (pending=N) as a busy service has.
func BenchmarkTagStates(b *testing.B) {
	for _, pending := range []int{0, 16, 256} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			hub := kojitest.New(b, kojitest.WithTaskDelay(time.Hour))
			hub.AddTag(tagName)
			hub.AddPackage(tagName, "nodejs")
			hub.AddPackage(tagName, "nodejs-devel")
			hub.AddBuild(kojitest.Build{NVR: nvr})
			hub.AddBuild(kojitest.Build{NVR: develN})
			c, err := koji.New(&koji.Config{
				Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"), Timeout: 10 * time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			for range pending {
				if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
					b.Fatal(err)
				}
			}
			targets := []koji.TagTarget{{Tag: tagName, NVR: nvr}, {Tag: tagName, NVR: develN}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.TagStates(ctx, targets); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
