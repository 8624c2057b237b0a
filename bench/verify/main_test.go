package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/bench/internal/manifest"
)

func TestBenchID(t *testing.T) {
	tests := []struct {
		in     string
		id, at int
		ok     bool
	}{
		{"X-Bench-Id: 7\nSubject: x\n", 7, 0, true},
		{"Received: by x\n\tfor y\nX-Bench-Id: 12\n", 12, 22, true},
		{"Subject: X-Bench-Id: 5\n", 0, 0, false},
		{"From nobody\nX-Bench-Id:  33\r\n", 33, 12, true},
		{"no header at all", 0, 0, false},
	}
	for _, tt := range tests {
		id, at, ok := benchID([]byte(tt.in))
		if id != tt.id || at != tt.at || ok != tt.ok {
			t.Errorf("benchID(%q) = %d, %d, %v; want %d, %d, %v", tt.in, id, at, ok, tt.id, tt.at, tt.ok)
		}
	}
}

func TestCheck_ExactAndCounts(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	os.MkdirAll(filepath.Join(cache, "msgs"), 0o755)
	msgs := map[int]string{1: "X-Bench-Id: 1\nSubject: a\n\nbody\n", 2: "X-Bench-Id: 2\nSubject: b\n\nno final newline"}
	var es []manifest.Entry
	for id := 1; id <= 2; id++ {
		e := manifest.Entry{ID: id, Name: manifest.FileName(id), Size: int64(len(msgs[id]))}
		os.WriteFile(manifest.Path(cache, e), []byte(msgs[id]), 0o600)
		es = append(es, e)
	}
	f, _ := os.Create(filepath.Join(cache, "manifest"))
	manifest.Write(f, es)
	f.Close()

	got := filepath.Join(dir, "got")
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(got, sub), 0o755)
	}
	trace := "Return-Path: <a@b>\nDelivered-To: me\nReceived: from pop\n\tby fetchd; now\n"
	os.WriteFile(filepath.Join(got, "new", "m1"), []byte(trace+msgs[1]), 0o600)
	os.WriteFile(filepath.Join(got, "new", "m2"), []byte(trace+msgs[2]+"\n"), 0o600)
	server := filepath.Join(dir, "server")
	os.MkdirAll(filepath.Join(server, "new"), 0o755)

	problems, _, err := check(cache, got, "delete", true, []string{server})
	if err != nil || len(problems) > 0 {
		t.Fatalf("a correct delivery: problems %v, err %v", problems, err)
	}

	// A changed byte, a duplicate and a leftover on the server are all reported.
	os.WriteFile(filepath.Join(got, "cur", "m1-again"), []byte(msgs[1]), 0o600)
	os.WriteFile(filepath.Join(got, "new", "m2"), []byte(trace+strings.Replace(msgs[2], "body", "BODY", 1)+"x\n"), 0o600)
	os.WriteFile(filepath.Join(server, "new", "left"), []byte("x"), 0o600)
	problems, _, err = check(cache, got, "delete", true, []string{server})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "; ")
	for _, want := range []string{"delivered more than once: 1×2", "not byte-identical: 2", "left on the server"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems %q do not mention %q", all, want)
		}
	}
}
