package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type pkgJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	Pulumi       *struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPkg(path string) (*pkgJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p pkgJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// findNodeModules returns the nearest node_modules directory at or above dir.
func findNodeModules(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		nm := filepath.Join(d, "node_modules")
		if st, err := os.Stat(nm); err == nil && st.IsDir() {
			return nm
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// GetRequiredPackages lists the resource plugins declared by top-level packages in node_modules
// ("pulumi": {"resource": true, ...} in their package.json).
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	nm := findNodeModules(req.GetInfo().GetProgramDirectory())
	if nm == "" {
		return resp, nil
	}
	var dirs []string
	entries, _ := os.ReadDir(nm)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "@") {
			sub, _ := os.ReadDir(filepath.Join(nm, e.Name()))
			for _, s := range sub {
				dirs = append(dirs, filepath.Join(nm, e.Name(), s.Name()))
			}
		} else if !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(nm, e.Name()))
		}
	}
	sort.Strings(dirs)
	seen := map[string]bool{}
	for _, d := range dirs {
		p, err := readPkg(filepath.Join(d, "package.json"))
		if err != nil || p.Pulumi == nil || !p.Pulumi.Resource {
			continue
		}
		name := p.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(strings.TrimPrefix(p.Name, "@pulumi/"), "pulumi-")
		}
		ver := p.Pulumi.Version
		if ver == "" {
			ver = p.Version
		}
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: name, Version: strings.TrimPrefix(ver, "v"), Server: p.Pulumi.Server,
		})
	}
	return resp, nil
}

// GetProgramDependencies reports the direct dependencies with their installed versions.
func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	p, err := readPkg(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	nm := findNodeModules(dir)
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	names := make([]string, 0, len(p.Dependencies))
	for n := range p.Dependencies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := p.Dependencies[n]
		if nm != "" {
			if ip, err := readPkg(filepath.Join(nm, n, "package.json")); err == nil && ip.Version != "" {
				v = ip.Version
			}
		}
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: n, Version: v})
	}
	return resp, nil
}
