package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Kubernetes manifests are applied as they are, so their
// configuration must load as the pods see it: each ConfigMap and Secret
// mounted whole where the Deployment mounts it, laid out as the kubelet
// lays out such a volume (a key is a link into ..data, which names a
// timestamped folder and is swapped for another on each change). A
// customer added to customers.yaml then reaches the configuration with no
// Deployment edit. Uses t.Setenv (the Secrets given as environment).
func TestKubernetesManifestsLoadAsMounted(t *testing.T) {
	const dir = "../../contrib/kubernetes"
	customers := manifestObjects(t, filepath.Join(dir, "customers.yaml"))
	for _, c := range []struct{ name, config, deployment, main string }{
		{"single node", "config.yaml", "deployment.yaml", "mailtask"},
		{"cluster", "cluster/config.yaml", "cluster/deployment.yaml", "mailtask-cluster"},
	} {
		t.Run(c.name, func(t *testing.T) {
			objects := manifestObjects(t, filepath.Join(dir, c.config))
			for name, data := range customers {
				objects[name] = data
			}
			key := make([]byte, 32)
			rand.Read(key)
			if tk, ok := objects["Secret/mailtask-token-key"]; ok {
				tk["key"] = base64.StdEncoding.EncodeToString(key) // the placeholder is no key
			}
			deployment, err := os.ReadFile(filepath.Join(dir, c.deployment))
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range regexp.MustCompile(`secretRef: \{name: (\S+)\}`).FindAllSubmatch(deployment, -1) {
				for k, v := range objects["Secret/"+string(ref[1])] {
					t.Setenv(k, v)
				}
			}
			root := t.TempDir()
			for _, m := range []struct{ kind, name, at string }{
				{"ConfigMap", c.main, "/etc/mailtask"},
				{"ConfigMap", "mailtask-customers", "/etc/mailtask-customers"},
				{"Secret", "mailtask-customer-secrets", "/etc/mailtask-customer-secrets"},
				{"Secret", "mailtask-token-key", "/etc/mailtask-token-key"},
			} {
				data, ok := objects[m.kind+"/"+m.name]
				if !ok {
					continue
				}
				if !strings.Contains(string(deployment), "mountPath: "+m.at+",") || !regexp.MustCompile(`(name|secretName): `+regexp.QuoteMeta(m.name)+`[,}\n]`).Match(deployment) {
					t.Fatalf("%s does not mount %s at %s", c.deployment, m.name, m.at)
				}
				kubeletVolume(t, filepath.Join(root, m.at), inRoot(root, data), 1)
			}
			for _, d := range []string{"/data", "/var/lib/mailtask"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(root, "etc/mailtask/mailtask.toml")
			code, out, errOut := run(t, "validate", "--config", cfg)
			// No warning either: an example should not teach one.
			if code != exitOK || errOut != "" || !strings.Contains(out, "acme.toml: accounts 1, tasks 1") || !strings.Contains(out, "globex.toml: accounts 1, tasks 1") {
				t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
			}

			// A customer added by an apply: the kubelet writes a new
			// folder, swaps ..data to it, then links the new key.
			added := inRoot(root, customers["ConfigMap/mailtask-customers"])
			added["initech.toml"] = strings.NewReplacer("acme", "initech").Replace(added["acme.toml"])
			delete(added, "globex.toml")
			kubeletVolume(t, filepath.Join(root, "etc/mailtask-customers"), added, 2)
			secrets := inRoot(root, customers["Secret/mailtask-customer-secrets"])
			secrets["initech.password"] = "initech-password"
			kubeletVolume(t, filepath.Join(root, "etc/mailtask-customer-secrets"), secrets, 2)
			code, out, errOut = run(t, "validate", "--config", cfg)
			if code != exitOK || !strings.Contains(out, "initech.toml: accounts 1, tasks 1") || strings.Contains(out, "globex") {
				t.Errorf("validate after the apply: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// manifestObjects reads the data (or stringData) of each ConfigMap and
// Secret of a manifest: "Kind/name" -> key -> value, block scalars (|)
// and quoted strings alike, as this project's manifests write them.
func manifestObjects(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]map[string]string{}
	for _, doc := range strings.Split(string(text), "\n---\n") {
		kind := regexp.MustCompile(`(?m)^kind: (\S+)`).FindStringSubmatch(doc)
		name := regexp.MustCompile(`(?m)^metadata:\n  name: (\S+)`).FindStringSubmatch(doc)
		if kind == nil || name == nil {
			t.Fatalf("%s: a document without kind or metadata.name", path)
		}
		data := map[string]string{}
		lines := strings.Split(doc, "\n")
		in := false
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			switch {
			case line == "data:" || line == "stringData:":
				in = true
			case !strings.HasPrefix(line, "  "):
				in = false
			case in && strings.HasSuffix(line, ": |"):
				k := strings.TrimSpace(strings.TrimSuffix(line, ": |"))
				var block strings.Builder
				for ; i+1 < len(lines) && (strings.HasPrefix(lines[i+1], "    ") || lines[i+1] == ""); i++ {
					block.WriteString(strings.TrimPrefix(lines[i+1], "    ") + "\n")
				}
				data[k] = block.String()
			case in:
				k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
				if !ok || !strings.HasPrefix(v, `"`) {
					t.Fatalf("%s: %s: a value this test cannot read: %q", path, name[1], line)
				}
				data[k] = strings.Trim(v, `"`)
			}
		}
		objects[kind[1]+"/"+name[1]] = data
	}
	return objects
}

// inRoot is files with the absolute paths the pods see made to point
// under root.
func inRoot(root string, files map[string]string) map[string]string {
	r := strings.NewReplacer(`"/etc/`, `"`+root+`/etc/`, `"/data/`, `"`+root+`/data/`, `"/var/lib/mailtask`, `"`+root+`/var/lib/mailtask`)
	out := map[string]string{}
	for k, v := range files {
		out[k] = r.Replace(v)
	}
	return out
}

// kubeletVolume lays files out in dir as the kubelet's atomic writer
// does, version n of the volume: the files in a folder of their own,
// ..data swapped to it by a rename, a link per key into ..data, and the
// links of keys no longer there removed.
func kubeletVolume(t *testing.T, dir string, files map[string]string, n int) {
	t.Helper()
	version := fmt.Sprintf("..2026_12_07_14_00_0%d.000000001", n)
	if err := os.MkdirAll(filepath.Join(dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, version, k), []byte(v), 0o440); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, kept := files[e.Name()]; !kept && !strings.HasPrefix(e.Name(), "..") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k := range files {
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
}
