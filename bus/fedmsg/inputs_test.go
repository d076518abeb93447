package fedmsg

import (
	"encoding/json"
	"testing"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/build"
)

// TestInputsReadKojiBesideMBS: topics subscribed beside MBS's deliver
// Koji's events (fedmsg's envelope around Fedora's flat body) as the kind
// of their envelope's topic, or of their input for a topic that names
// none; a topic no input subscribes to never arrives.
func TestInputsReadKojiBesideMBS(t *testing.T) {
	needZMQ(t)
	ep := endpoint(t)
	peer := startPeer(t, ep)
	const koji = "org.fedoraproject.test.buildsys."
	c := newConsumer(t, Config{Endpoints: []string{ep}, Inputs: []bus.Input{
		{Address: koji + "tag"},
		{Address: koji + "build.state.change"},
		{Address: "org.fedoraproject.test.mts.untags", Kind: build.KindUntag},
	}})
	probe(t, c, peer)
	send := func(topic, msgID string, i int, body []byte) {
		t.Helper()
		env, _ := json.Marshal(map[string]any{
			"topic": topic, "msg": json.RawMessage(body), "msg_id": msgID,
			"timestamp": 1546300800.5, "i": i, "username": "apache",
		})
		if err := peer.Send(topic, env); err != nil {
			t.Fatal(err)
		}
	}
	send(koji+"untag", "2019-a", 1, []byte(bustest.FedoraUntag))
	send(koji+"tag", "2019-b", 2, []byte(bustest.FedoraTag))
	send(koji+"build.state.change", "2019-c", 3, []byte(bustest.FedoraStateChange))
	send("org.fedoraproject.test.mts.untags", "2019-d", 4, []byte(bustest.FedoraUntag))
	send(topic, "2019-e", 5, bustest.Body(1001))
	bustest.ReceiveKinds(t, c, wait,
		bustest.Want{Kind: build.KindModule, Build: 1001},
		bustest.Want{Kind: build.KindTag, Build: 1457909, Tag: "f31-updates-pending"},
		bustest.Want{Kind: build.KindComplete, Build: 1478312},
		bustest.Want{Kind: build.KindUntag, Build: 1457909, Tag: "f31-updates-testing"},
	)
}
