package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/internal/pop3/pop3test"
)

// `fetchd once` reports a message over max_message_size to notify_command
// once, with its UIDL, size and the limit, however often it runs; the
// summary line counts it every time.
func TestOnce_OversizeNotifiedOnce(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Messages = []pop3test.Message{{UID: "huge", Body: bytes.Repeat([]byte("x"), 5000)}}
	srv.Start()
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	top := fmt.Sprintf("notify_command = [\"sh\", \"-c\", \"cat >> %s; echo >> %s\"]", events, events)
	cfg := daemonConfig(t, dir, top, []fakeAccount{{name: "n", user: "user", srv: srv, extra: "max_message_size = 1000\n"}})
	for i := range 3 {
		code, out, errOut := runDry(t, "once", "-c", cfg)
		if code != exitOK || !strings.Contains(out, "n: 0 fetched, 0 deleted, 0 failed, 1 over max_message_size left on the server") {
			t.Fatalf("run %d: exit %d:\n%s\n%s", i, code, out, errOut)
		}
	}
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		got = append(got, ev)
	}
	if len(got) != 1 {
		t.Fatalf("notify_command ran %d times over 3 polls, want once:\n%s", len(got), b)
	}
	d, _ := got[0]["details"].(map[string]any)
	if got[0]["event"] != "oversize" || got[0]["account"] != "n" || d["uidl"] != "huge" || d["size"] != 5000.0 || d["limit"] != 1000.0 {
		t.Errorf("event %v, want oversize of huge (5000 > 1000)", got[0])
	}
}

// `fetchd once` with the retention keys: delete_after deletes on the
// server what was delivered longer ago, and the summary says so.
func TestOnce_RetentionSummary(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Messages = []pop3test.Message{{UID: "a", Body: []byte("Subject: a\r\n\r\nA\r\n")}, {UID: "b", Body: []byte("Subject: b\r\n\r\nB\r\n")},
		{UID: "c", Body: []byte("Subject: c\r\n\r\nC\r\n")}}
	srv.Start()
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, "", []fakeAccount{{name: "r", user: "user", srv: srv, extra: "keep = true\ndelete_after = \"1ns\"\nmax_messages_per_poll = 2\n"}})
	if code, out, _ := runDry(t, "once", "-c", cfg); code != exitOK || !strings.Contains(out, "r: 2 fetched, 0 deleted, 0 failed, 1 left for the next poll (per-poll limits)") {
		t.Fatalf("first run: exit %d: %s", code, out)
	}
	if code, out, _ := runDry(t, "once", "-c", cfg); code != exitOK || !strings.Contains(out, "r: 1 fetched, 2 deleted, 0 failed, 2 of the deleted past delete_after") {
		t.Fatalf("second run: exit %d: %s", code, out)
	}
	if n := len(srv.Mailbox()); n != 1 {
		t.Errorf("server holds %d messages, want 1 (c, delivered in the last run)", n)
	}
}
