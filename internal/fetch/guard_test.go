package fetch

import (
	"fmt"
	"strings"
	"testing"

	"fetchd/internal/pop3/pop3test"
)

func numbered(prefix string, n int) []pop3test.Message {
	var ms []pop3test.Message
	for i := range n {
		ms = append(ms, msg(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("Subject: %s %d\r\n\r\nbody %d\r\n", prefix, i, i)))
	}
	return ms
}

func TestPoll_LostStateGuard(t *testing.T) {
	t.Run("refuses a large first sync in keep mode", func(t *testing.T) {
		e := newEnv(t, numbered("m", 5), nil)
		e.account.Keep = true
		e.account.InitialSyncLimit = 3
		res := e.poll()
		if res.Err == nil || !strings.Contains(res.Err.Error(), "--mark-seen test") || !strings.Contains(res.Err.Error(), "--initial-sync test") {
			t.Fatalf("poll error %v, want the two ways out", res.Err)
		}
		if IsTemporary(res.Err) || len(e.delivered()) != 0 {
			t.Errorf("guard error temporary or messages fetched")
		}
	})
	t.Run("mark-seen records all, fetches none", func(t *testing.T) {
		e := newEnv(t, numbered("m", 5), nil)
		e.account.Keep = true
		e.account.InitialSyncLimit = 3
		e.account.Sync = SyncMarkSeen
		if res := e.poll(); res.Err != nil || res.MarkedSeen != 5 || res.Fetched != 0 {
			t.Fatalf("mark-seen poll %+v", res)
		}
		e.account.Sync = SyncNormal
		e.srv.AddMessages(msg("new", "Subject: new\r\n\r\nnew\r\n"))
		if res := e.poll(); !res.OK() || res.Fetched != 1 {
			t.Fatalf("next poll %+v, want only the new message", res)
		}
	})
	t.Run("mark-seen refuses a delete-mode account", func(t *testing.T) {
		// What is left on a delete-mode server was never fetched: marked
		// seen, the next poll would delete it undelivered.
		e := newEnv(t, numbered("m", 3), nil)
		e.account.Sync = SyncMarkSeen
		res := e.poll()
		if res.Err == nil || !strings.Contains(res.Err.Error(), "keep = true") || IsTemporary(res.Err) {
			t.Fatalf("mark-seen poll error %v, want a permanent refusal naming keep = true", res.Err)
		}
		if seen, err := e.store.Seen(e.account.Key); err != nil || len(seen) != 0 || res.MarkedSeen != 0 {
			t.Fatalf("recorded %d as seen (err %v), want none", len(seen), err)
		}
		e.account.Sync = SyncNormal
		if res := e.poll(); !res.OK() || res.Fetched != 3 {
			t.Fatalf("next poll %+v, want all 3 delivered", res)
		}
	})
	t.Run("initial-sync fetches all", func(t *testing.T) {
		e := newEnv(t, numbered("m", 5), nil)
		e.account.Keep = true
		e.account.InitialSyncLimit = 3
		e.account.Sync = SyncInitialSync
		if res := e.poll(); !res.OK() || res.Fetched != 5 {
			t.Fatalf("poll %+v", res)
		}
	})
	t.Run("delete mode is not guarded", func(t *testing.T) {
		e := newEnv(t, numbered("m", 5), nil)
		e.account.InitialSyncLimit = 3
		if res := e.poll(); !res.OK() || res.Fetched != 5 {
			t.Fatalf("poll %+v", res)
		}
	})
}

// A server that renumbered every UIDL would make keep mode download the
// whole mailbox again; the guard stops instead.
func TestPoll_MassUIDLChangeGuard(t *testing.T) {
	e := newEnv(t, numbered("old", 12), nil)
	e.account.Keep = true
	if res := e.poll(); !res.OK() || res.Fetched != 12 {
		t.Fatalf("first poll %+v", res)
	}
	srv := pop3test.NewServer(t)
	srv.Messages = numbered("renumbered", 12)
	srv.Start()
	e.srv = srv
	e.account.Server.Addr = srv.Addr()
	res := e.poll()
	if res.Err == nil || !strings.Contains(res.Err.Error(), "UIDLs) changed") || res.Fetched != 0 {
		t.Fatalf("poll %+v, want the guard to stop it", res)
	}
	if len(e.delivered()) != 12 {
		t.Errorf("maildir holds %d, want still 12", len(e.delivered()))
	}
}

// Regression (review C1): two messages under one UIDL, the second left on
// the server in the first poll, must not be deleted undelivered later.
func TestPoll_DuplicateUIDLSecondNotLost(t *testing.T) {
	small := "Subject: small\r\n\r\nsmall\r\n"
	large := "Subject: large\r\n\r\n" + strings.Repeat("large line\r\n", 20)
	e := newEnv(t, []pop3test.Message{msg("same", small), msg("same", large)}, nil)
	e.account.MaxMessageSize = int64(len(small)) + 10
	if res := e.poll(); res.Fetched != 1 || res.TooLarge != 1 {
		t.Fatalf("first poll %+v", res)
	}
	e.account.MaxMessageSize = 0
	if res := e.poll(); !res.OK() || res.Fetched != 1 {
		t.Fatalf("second poll %+v, want the large one delivered", res)
	}
	want := []string{strings.ReplaceAll(large, "\r\n", "\n"), strings.ReplaceAll(small, "\r\n", "\n")}
	if got := e.delivered(); !equalStrings(got, want) {
		t.Errorf("maildir holds %q, want both", got)
	}
}

// Regression (review C2): keep mode cannot track duplicated UIDLs; they stay
// on the server, reported, instead of one being silently never delivered.
func TestPoll_DuplicateUIDLKeepModeLeftOnServer(t *testing.T) {
	e := newEnv(t, []pop3test.Message{msg("same", "A: 1\r\n\r\n1\r\n"), msg("same", "A: 2\r\n\r\n2\r\n"), three[0]}, nil)
	e.account.Keep = true
	res := e.poll()
	if res.Fetched != 1 || res.Skipped != 2 {
		t.Fatalf("poll %+v, want the duplicates skipped and reported", res)
	}
	if len(e.remainingUIDs()) != 3 {
		t.Errorf("server holds %d, want all 3", len(e.remainingUIDs()))
	}
}

// A server that later lists an undelivered message under a delivered UIDL
// (reused or lying UIDLs) must not get it deleted unseen: its size differs
// from the recorded one, so it is delivered instead.
func TestPoll_ReusedUIDLWithOtherSizeDeliveredNotDeleted(t *testing.T) {
	e := newEnv(t, three[:1], func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, DropAt: "QUIT"} // the DELE rolls back
	})
	e.poll()
	srv := pop3test.NewServer(t)
	other := "Subject: another message entirely\r\n\r\nnever delivered before\r\n"
	srv.Messages = []pop3test.Message{msg("a", other)}
	srv.Start()
	e.srv = srv
	e.account.Server.Addr = srv.Addr()
	if res := e.poll(); !res.OK() || res.Fetched != 1 {
		t.Fatalf("poll %+v, want the message delivered", res)
	}
	found := false
	for _, m := range e.delivered() {
		if m == strings.ReplaceAll(other, "\r\n", "\n") {
			found = true
		}
	}
	if !found {
		t.Errorf("the message listed under a reused UIDL was deleted without delivery")
	}
}

// Regression (kill campaign): a message without a final newline is served
// with one added, so RETR gives two octets more than LIST; after a rolled
// back DELE it must be deleted again, not delivered a second time.
func TestPoll_NoFinalNewlineNotRedeliveredAfterDrop(t *testing.T) {
	body := "Subject: no newline\r\n\r\nlast line without CRLF"
	e := newEnv(t, []pop3test.Message{msg("x", body)}, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, DropAt: "QUIT"}
	})
	e.poll()
	if res := e.poll(); !res.OK() || res.Fetched != 0 || res.Deleted != 1 {
		t.Fatalf("second poll %+v, want the message deleted, not fetched again", res)
	}
	if got := e.delivered(); len(got) != 1 {
		t.Errorf("maildir holds %d copies, want 1", len(got))
	}
}
