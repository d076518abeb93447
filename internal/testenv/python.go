package testenv

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// PythonJSON runs Debian's Python with script, req as JSON on its stdin,
// and decodes its JSON answer into out: the reference's own libraries as
// an oracle. Each of modules must import (from Debian's python3-MODULE);
// one that does not is Missing.
func PythonJSON(t testing.TB, script string, req, out any, modules ...string) {
	t.Helper()
	for _, m := range modules {
		if err := pythonImports(m, "python3-"+m); err != nil {
			Missing(t, "Debian's %s with the %s module: %v", SystemPython, m, err)
		}
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(SystemPython, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v: %s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("python's answer: %v", err)
	}
}
