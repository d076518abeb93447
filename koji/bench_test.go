package koji_test

import (
	"context"
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
