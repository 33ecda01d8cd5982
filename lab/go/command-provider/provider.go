package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	engine    pulumirpc.EngineClient // nil: messages go to logf
	logf      func(string)           // without an engine; nil: stderr
	cancelCtx context.Context        // cancelled by Cancel: stops running commands
	cancel    context.CancelFunc
}

func newProvider(ctx context.Context) *provider {
	cancelCtx, cancel := context.WithCancel(ctx)
	return &provider{cancelCtx: cancelCtx, cancel: cancel}
}

// log sends a status message (ephemeral: shown while the resource is in progress).
func (p *provider) log(ctx context.Context, urn, msg string) {
	if p.engine == nil || urn == "" {
		if p.logf != nil {
			p.logf(msg)
		} else {
			fmt.Fprintln(os.Stderr, msg)
		}
		return
	}
	_, _ = p.engine.Log(ctx, &pulumirpc.LogRequest{
		Severity: pulumirpc.LogSeverity_INFO, Message: msg, Urn: urn, Ephemeral: true,
	})
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancel()
	return &emptypb.Empty{}, nil
}

func checkType(t string) error {
	if t != tokLocal && t != tokRemote {
		return status.Errorf(codes.Unimplemented, "resource type %q is not implemented by this command provider "+
			"(kubevirt-sriov lab build: only %s and %s)", t, tokLocal, tokRemote)
	}
	return nil
}

// typeOf extracts the type token from a URN (urn:pulumi:stack::project::parent$type::name).
func typeOf(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		urn = urn[:i]
	}
	if i := strings.LastIndex(urn, "$"); i >= 0 {
		urn = urn[i+1:]
	} else if i := strings.LastIndex(urn, "::"); i >= 0 {
		urn = urn[i+2:]
	}
	return urn
}

func reqType(t, urn string) string {
	if t != "" {
		return t
	}
	return typeOf(urn)
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if t == tokRemote {
		c := news["connection"]
		if c.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection",
				Reason: "missing required property 'connection'"})
		} else if pc := plain(c); pc.IsObject() && plain(pc.ObjectValue()["host"]).IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection.host",
				Reason: "missing required property 'host'"})
		}
	}
	for _, k := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
		if v, ok := news[k]; ok && !v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: string(k),
				Reason: "not supported by the kubevirt-sriov lab command provider"})
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// Diff compares inputs: a change to `triggers` replaces, any other change updates (stdout and
// stderr are outputs and never compared).
func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	var olds resource.PropertyMap
	var err error
	if req.GetOldInputs() != nil {
		olds, err = unmarshal(req.GetOldInputs())
	} else {
		olds, err = unmarshal(req.GetOlds())
	}
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignore := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignore[k] = true
	}
	keys := map[string]bool{}
	for k := range olds {
		keys[string(k)] = true
	}
	for k := range news {
		keys[string(k)] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	for _, ks := range sorted {
		k := resource.PropertyKey(ks)
		if outputKeys[k] || ignore[ks] {
			continue
		}
		o, n := plain(olds[k]), plain(news[k])
		if !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case o.IsNull():
			kind = pulumirpc.PropertyDiff_ADD
		case n.IsNull():
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if ks == "triggers" {
			kind++ // *_REPLACE follows each kind in the enum
			resp.Replaces = append(resp.Replaces, ks)
		}
		resp.Diffs = append(resp.Diffs, ks)
		resp.DetailedDiff[ks] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

func newID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	if name == "" {
		name = "command"
	}
	return name + "-" + hex.EncodeToString(b)
}

// Create runs `create` (nothing during preview).
func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		props, err := outputs(inputs, t, nil, nil)
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	a, err := decode(inputs)
	if err != nil {
		return nil, err
	}
	stdout, stderr := "", ""
	if a.Create != nil {
		stdout, stderr, err = p.run(ctx, t, req.GetUrn(), *a.Create, a, "", "")
		if err != nil {
			return nil, err
		}
	}
	props, err := outputs(inputs, t, &stdout, &stderr)
	return &pulumirpc.CreateResponse{Id: newID(req.GetName()), Properties: props}, err
}

// Update runs `update`, or `create` if there is no `update`, with the NEW inputs (nothing
// during preview). The previous stdout/stderr are in PULUMI_COMMAND_STDOUT/STDERR.
func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		props, err := outputs(news, t, nil, nil)
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	old, err := decode(olds)
	if err != nil {
		return nil, err
	}
	a, err := decode(news)
	if err != nil {
		return nil, err
	}
	stdout, stderr := old.Stdout, old.Stderr
	cmd := a.Update
	if cmd == nil {
		cmd = a.Create
	}
	if cmd != nil {
		stdout, stderr, err = p.run(ctx, t, req.GetUrn(), *cmd, a, old.Stdout, old.Stderr)
		if err != nil {
			return nil, err
		}
	}
	props, err := outputs(news, t, &stdout, &stderr)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

// Delete runs `delete` from the stored state alone (its inputs, connection included).
func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	a, err := decode(state)
	if err != nil {
		return nil, err
	}
	if a.Delete != nil {
		if _, _, err := p.run(ctx, t, req.GetUrn(), *a.Delete, a, a.Stdout, a.Stderr); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh/import) keeps the recorded state: a command has nothing to read back.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Invoke implements command:local:run.
func (p *provider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != tokRun {
		return nil, status.Errorf(codes.Unimplemented, "function %q is not implemented by this command provider",
			req.GetTok())
	}
	in, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	a, err := decode(in)
	if err != nil {
		return nil, err
	}
	if a.Command == nil {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Property: "command",
			Reason: "missing required property 'command'"}}}, nil
	}
	stdout, stderr, err := p.run(ctx, tokLocal, "", *a.Command, a, "", "")
	if err != nil {
		return nil, err
	}
	out := in.Copy()
	out["stdout"] = resource.NewStringProperty(stdout)
	out["stderr"] = resource.NewStringProperty(stderr)
	ret, err := plugin.MarshalProperties(out, marshalOpts)
	return &pulumirpc.InvokeResponse{Return: ret}, err
}
