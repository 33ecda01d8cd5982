package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func diff(t *testing.T, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	resp, err := newTestProvider(t).Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: testURN(tokRemote), Type: tokRemote, OldInputs: toStruct(t, olds), News: toStruct(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDiff(t *testing.T) {
	conn := resource.NewObjectProperty(resource.PropertyMap{"host": str("h"), "privateKey": secret("k")})
	base := resource.PropertyMap{"connection": conn, "create": str("a"), "update": str("a"), "delete": str("d"),
		"triggers": resource.NewArrayProperty([]resource.PropertyValue{str("t1")})}

	if d := diff(t, base, base.Copy()); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no change: %v", d)
	}
	// Secretness alone is no change (the state holds the connection as one secret).
	same := base.Copy()
	same["connection"] = resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
		"host": str("h"), "privateKey": str("k")}))
	if d := diff(t, base, same); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("secret wrapper only: %v", d)
	}
	changed := base.Copy()
	changed["create"], changed["update"] = str("b"), str("b")
	d := diff(t, base, changed)
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 ||
		strings.Join(d.GetDiffs(), ",") != "create,update" {
		t.Errorf("create/update text changed: want an update, got %v", d)
	}
	conn2 := base.Copy()
	conn2["connection"] = resource.NewObjectProperty(resource.PropertyMap{"host": str("h2"), "privateKey": secret("k")})
	if d := diff(t, base, conn2); d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 {
		t.Errorf("connection changed: want an update, got %v", d)
	}
	trig := base.Copy()
	trig["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("t2")})
	d = diff(t, base, trig)
	if strings.Join(d.GetReplaces(), ",") != "triggers" ||
		d.GetDetailedDiff()["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Errorf("triggers changed: want a replacement, got %v", d)
	}
	unknown := base.Copy()
	unknown["create"] = resource.MakeComputed(str(""))
	if d := diff(t, base, unknown); d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME {
		t.Errorf("unknown create: %v", d)
	}
	// Outputs in the old state never count.
	withOut := base.Copy()
	withOut["stdout"] = str("x")
	if d := diff(t, withOut, base.Copy()); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("stdout in olds: %v", d)
	}
}

func TestLocalLifecycleAndPreview(t *testing.T) {
	p := newTestProvider(t)
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	in := resource.PropertyMap{
		"create": str("echo create >> " + marker + "; echo out1"),
		"update": str(`echo "update prev=$PULUMI_COMMAND_STDOUT" >> ` + marker + "; echo out2"),
		"delete": str("echo delete >> " + marker),
	}
	cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN(tokLocal), Properties: toStruct(t, in),
		Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if out := fromStruct(t, cr.GetProperties()); !out["stdout"].IsComputed() {
		t.Errorf("preview stdout = %v, want unknown", out["stdout"])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("preview ran the create command")
	}
	state, err := create(t, p, tokLocal, in) // type from the URN, as the engine may send it
	if err != nil {
		t.Fatal(err)
	}
	if got := stdoutOf(t, state); got != "out1" {
		t.Errorf("stdout = %q", got)
	}
	in2 := in.Copy()
	in2["environment"] = resource.NewObjectProperty(resource.PropertyMap{"X": str("1")})
	if _, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN(tokLocal), Olds: toStruct(t, state),
		News: toStruct(t, in2), Preview: true}); err != nil {
		t.Fatal(err)
	}
	up, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN(tokLocal), Olds: toStruct(t, state),
		News: toStruct(t, in2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: testURN(tokLocal), Properties: up.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(marker)
	if got, want := string(b), "create\nupdate prev=out1\ndelete\n"; got != want {
		t.Errorf("ran:\n%s\nwant:\n%s", got, want)
	}
}

func TestCheck(t *testing.T) {
	p := newTestProvider(t)
	check := func(typ string, m resource.PropertyMap) []string {
		resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: testURN(typ), Type: typ,
			News: toStruct(t, m)})
		if err != nil {
			t.Fatal(err)
		}
		var props []string
		for _, f := range resp.GetFailures() {
			props = append(props, f.GetProperty())
		}
		return props
	}
	if f := check(tokRemote, resource.PropertyMap{"create": str("x")}); strings.Join(f, ",") != "connection" {
		t.Errorf("no connection: failures %v", f)
	}
	if f := check(tokRemote, resource.PropertyMap{"connection": resource.NewObjectProperty(resource.PropertyMap{})}); strings.Join(f, ",") != "connection.host" {
		t.Errorf("no host: failures %v", f)
	}
	if f := check(tokLocal, resource.PropertyMap{"assetPaths": resource.NewArrayProperty(nil)}); strings.Join(f, ",") != "assetPaths" {
		t.Errorf("assetPaths: failures %v", f)
	}
	if _, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Type: "command:remote:CopyToRemote",
		News: toStruct(t, resource.PropertyMap{})}); err == nil {
		t.Error("CopyToRemote: no error")
	}
}

func TestInvokeRun(t *testing.T) {
	resp, err := newTestProvider(t).Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: tokRun,
		Args: toStruct(t, resource.PropertyMap{"command": str("echo hi; echo there >&2")})})
	if err != nil {
		t.Fatal(err)
	}
	out := fromStruct(t, resp.GetReturn())
	if out["stdout"].StringValue() != "hi" || out["stderr"].StringValue() != "there" {
		t.Errorf("run returned %v", out)
	}
}

func TestTypeOf(t *testing.T) {
	for urn, want := range map[string]string{
		"urn:pulumi:s::p::command:remote:Command::n":                                   tokRemote,
		"urn:pulumi:s::p::kubevirt-sriov:node:SriovNodePrep$command:remote:Command::n": tokRemote,
	} {
		if got := typeOf(urn); got != want {
			t.Errorf("typeOf(%s) = %s", urn, got)
		}
	}
}
