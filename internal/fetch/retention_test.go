package fetch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// Tests of the retention policies (plan.go, retention.go): delete_after,
// the per-poll limits and max_message_size with oversize, on each delivery
// path: the batch path (one maildir, PIPELINING), and one message at a time
// through a real MDA, with and without PIPELINING.

type deliveryPath struct {
	name       string
	pipelining bool
	mda        bool
}

var deliveryPaths = []deliveryPath{
	{"batch", true, false},
	{"mda", false, true},
	{"mda-pipelined", true, true},
}

// sized returns a message whose UIDL is uid and whose listed size is
// exactly size (at least 40), naming uid in its Subject.
func sized(uid string, size int) pop3test.Message {
	head := "Subject: " + uid + "\r\n\r\n"
	pad := size - len(head) - 2
	if pad < 1 {
		panic("sized: size too small")
	}
	return msg(uid, head+strings.Repeat("x", pad)+"\r\n")
}

// retEnv is an env whose clock the test moves, whose deliveries it can
// list by UIDL whatever the path, and whose log and notifications it reads.
type retEnv struct {
	*env
	path   deliveryPath
	mdaDir string
	now    time.Time
	logs   *syncBuffer
	mu     sync.Mutex
	events []string // "event uidl"
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

func newRetEnv(t *testing.T, p deliveryPath, msgs []pop3test.Message, configure func(*pop3test.Server)) *retEnv {
	t.Helper()
	e := &retEnv{path: p, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), logs: &syncBuffer{}}
	e.env = newEnv(t, msgs, func(s *pop3test.Server) {
		s.Pipelining = p.pipelining
		if configure != nil {
			configure(s)
		}
	})
	if p.mda {
		e.mdaDir = t.TempDir()
		e.account.Targets = []Target{{Deliverer: newMDA(t, e.env, `f=$(mktemp -p `+e.mdaDir+`) && cat > "$f"`), Recipients: []string{"me"}, Local: true}}
	}
	e.poller.Now = func() time.Time { return e.now }
	e.poller.Log = zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), e.logs)).Level(zerolog.DebugLevel)
	e.poller.Notify = func(event, account, _ string, details map[string]any) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, fmt.Sprintf("%s %s %v", event, account, details["uidl"]))
	}
	return e
}

func (e *retEnv) at(d time.Duration) Result {
	e.t.Helper()
	e.now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(d)
	return e.poll()
}

// deliveredUIDs returns the UIDLs named by the messages delivered so far,
// sorted, with repeats.
func (e *retEnv) deliveredUIDs() []string {
	e.t.Helper()
	var bodies []string
	if e.path.mda {
		entries, err := os.ReadDir(e.mdaDir)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, de := range entries {
			b, err := os.ReadFile(filepath.Join(e.mdaDir, de.Name()))
			if err != nil {
				e.t.Fatal(err)
			}
			bodies = append(bodies, string(b))
		}
	} else {
		bodies = e.mail()
	}
	var out []string
	for _, b := range bodies {
		subject, _, _ := strings.Cut(strings.TrimPrefix(b, "Subject: "), "\n")
		out = append(out, strings.TrimSuffix(subject, "\r"))
	}
	slices.Sort(out)
	return out
}

func (e *retEnv) retrs() int {
	n := 0
	for _, c := range e.srv.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), "RETR ") {
			n++
		}
	}
	return n
}

func (e *retEnv) notified() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// delete_after = "2s": only messages delivered more than 2 s ago are
// deleted on the server; the rest, new ones included, stay.
func TestPoll_DeleteAfter(t *testing.T) {
	for _, p := range deliveryPaths {
		t.Run(p.name, func(t *testing.T) {
			old := []pop3test.Message{sized("a", 100), sized("b", 200), sized("c", 300)}
			e := newRetEnv(t, p, old, nil)
			e.account.Keep, e.account.DeleteAfter = true, 2*time.Second
			if res := e.at(0); !res.OK() || res.Fetched != 3 || res.Deleted != 0 {
				t.Fatalf("first poll %+v, want 3 fetched, none deleted", res)
			}
			if res := e.at(time.Second); !res.OK() || res.Fetched != 0 || res.Deleted != 0 {
				t.Fatalf("poll 1 s later %+v, want nothing done", res)
			}
			e.srv.AddMessages(sized("d", 400), sized("e", 500))
			res := e.at(3 * time.Second)
			if !res.OK() || res.Fetched != 2 || res.Deleted != 3 || res.Expired != 3 {
				t.Fatalf("poll 3 s later %+v, want d and e fetched, a, b and c deleted (expired)", res)
			}
			if got := e.remainingUIDs(); !slices.Equal(got, []string{"d", "e"}) {
				t.Errorf("server holds %q, want only the new d and e", got)
			}
			seen := e.seen()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			for _, m := range old {
				rec := seen[m.UID]
				if rec.State != state.Deleted || !rec.Delivered.Equal(t0) || rec.Size != int64(len(m.Body)) || !rec.Deleted.Equal(t0.Add(3*time.Second)) {
					t.Errorf("record of %s = %+v, want deleted at +3s, delivered at t0, size %d", m.UID, rec, len(m.Body))
				}
			}
			if rec := seen["d"]; rec.State != state.Delivered {
				t.Errorf("record of d = %+v, want delivered", rec)
			}
			if res := e.at(4 * time.Second); res.Deleted != 0 || res.Fetched != 0 {
				t.Errorf("poll 4 s later %+v, want nothing done (d and e delivered 1 s ago)", res)
			}
			if res := e.at(6 * time.Second); res.Deleted != 2 || res.Expired != 2 || len(e.remainingUIDs()) != 0 {
				t.Errorf("poll 6 s later %+v, server %q; want d and e deleted", res, e.remainingUIDs())
			}
			if got := e.deliveredUIDs(); !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
				t.Errorf("delivered %q, want each message once", got)
			}
		})
	}
}

// What delete_after may delete: never a message whose record's size differs
// from the listed one, nor one deleted without delivery; an imported record
// without a size is deleted only after a poll recorded the listed size.
func TestPoll_DeleteAfterNeedsMatchingRecord(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := t0.Add(-48 * time.Hour)
	tests := []struct {
		name       string
		rec        state.Record
		first      bool // deleted by the first poll
		second     bool // deleted by the second
		wantSizeAt int64
	}{
		{"matching", state.Record{State: state.Delivered, Delivered: old, Size: 100}, true, true, 100},
		{"other size", state.Record{State: state.Delivered, Delivered: old, Size: 99}, false, false, 99},
		{"imported, no size", state.Record{State: state.Delivered, Delivered: old}, false, true, 100},
		{"deleted undelivered", state.Record{State: state.Deleted, Deleted: old}, false, false, 0},
		{"recent", state.Record{State: state.Delivered, Delivered: t0.Add(-time.Hour), Size: 100}, false, false, 100},
		{"deleted before, listed again", state.Record{State: state.Deleted, Delivered: old, Deleted: old, Size: 100}, true, true, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRetEnv(t, deliveryPaths[0], []pop3test.Message{sized("a", 100)}, nil)
			e.account.Keep, e.account.DeleteAfter = true, 24*time.Hour
			if err := e.store.MarkDeliveredBatch(e.account.Key, map[string]state.Record{"a": tt.rec}); err != nil {
				t.Fatal(err)
			}
			res := e.at(0)
			if gone := len(e.remainingUIDs()) == 0; gone != tt.first || res.Fetched != 0 {
				t.Fatalf("first poll %+v: deleted %v, want %v, nothing fetched", res, gone, tt.first)
			}
			if !tt.first {
				res = e.at(time.Minute)
				if gone := len(e.remainingUIDs()) == 0; gone != tt.second || res.Fetched != 0 {
					t.Fatalf("second poll %+v: deleted %v, want %v", res, gone, tt.second)
				}
			}
			if rec := e.seen()["a"]; rec.Size != tt.wantSizeAt {
				t.Errorf("record %+v, want size %d", rec, tt.wantSizeAt)
			}
			if got := e.deliveredUIDs(); len(got) != 0 {
				t.Errorf("delivered %q, want nothing", got)
			}
		})
	}
}

// The per-poll limits bound what one poll fetches, in the server's order;
// no RETR goes out for a message beyond them, pipelined or not; the rest
// comes with the following polls; deletions of delivered messages do not
// count.
func TestPoll_PerPollLimits(t *testing.T) {
	var msgs []pop3test.Message
	for i := range 6 {
		msgs = append(msgs, sized(fmt.Sprintf("m%d", i), 1000))
	}
	tests := []struct {
		name     string
		maxMsgs  int
		maxBytes int64
		first    int // messages a poll fetches, the last poll fewer
	}{
		{"messages", 2, 0, 2},
		{"bytes", 0, 2500, 2},
		{"bytes exact", 0, 3000, 3},
		{"both, messages tighter", 1, 5000, 1},
		{"first larger than max_bytes", 0, 10, 1},
	}
	for _, p := range deliveryPaths {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				e := newRetEnv(t, p, msgs, nil)
				e.account.MaxMessagesPerPoll, e.account.MaxBytesPerPoll = tt.maxMsgs, tt.maxBytes
				var got []string
				for poll := 0; len(got) < len(msgs); poll++ {
					if poll > len(msgs) {
						t.Fatalf("no progress: delivered %q", got)
					}
					retrs := e.retrs()
					res := e.at(time.Duration(poll) * time.Minute)
					want := min(tt.first, len(msgs)-len(got))
					if !res.OK() || res.Fetched != want || res.Limited != len(msgs)-len(got)-want || res.New != len(msgs)-len(got) {
						t.Fatalf("poll %d: %+v, want %d fetched, %d limited", poll, res, want, len(msgs)-len(got)-want)
					}
					if n := e.retrs() - retrs; n != want {
						t.Errorf("poll %d sent %d RETRs, want %d (none beyond the limits)", poll, n, want)
					}
					got = e.deliveredUIDs()
					wantUIDs := uids(msgs[:len(got)])
					if !slices.Equal(got, wantUIDs) {
						t.Fatalf("after poll %d delivered %q, want the first ones in order: %q", poll, got, wantUIDs)
					}
				}
				if e.logs.count("per-poll limit reached") == 0 {
					t.Error("no info line says how many wait for the next poll")
				}
			})
		}
	}
}

// Expired deletions do not count against max_messages_per_poll.
func TestPoll_PerPollLimitsIgnoreDeletions(t *testing.T) {
	e := newRetEnv(t, deliveryPaths[0], []pop3test.Message{sized("a", 100), sized("b", 100), sized("c", 100)}, nil)
	e.account.Keep, e.account.DeleteAfter, e.account.MaxMessagesPerPoll = true, time.Hour, 3
	if res := e.at(0); res.Fetched != 3 {
		t.Fatalf("first poll %+v, want 3 fetched", res)
	}
	e.srv.AddMessages(sized("d", 100), sized("e", 100), sized("f", 100), sized("g", 100))
	res := e.at(2 * time.Hour)
	if !res.OK() || res.Expired != 3 || res.Fetched != 3 || res.Limited != 1 {
		t.Fatalf("poll %+v, want 3 expired deleted, 3 fetched, 1 limited", res)
	}
	if got := e.remainingUIDs(); !slices.Equal(got, []string{"d", "e", "f", "g"}) {
		t.Errorf("server holds %q", got)
	}
}

// With EXPIRE 0 no RETR goes ahead at all, limits or not; the limits still
// hold.
func TestPoll_PerPollLimitsExpireZero(t *testing.T) {
	e := newRetEnv(t, deliveryPaths[0], []pop3test.Message{sized("a", 100), sized("b", 100), sized("c", 100)},
		func(s *pop3test.Server) { s.ExtraCaps = []string{"EXPIRE 0"} })
	e.account.MaxMessagesPerPoll = 1
	if res := e.at(0); !res.OK() || res.Fetched != 1 || e.retrs() != 1 {
		t.Fatalf("poll %+v with %d RETRs, want 1 fetched with 1 RETR", res, e.retrs())
	}
}

// oversize = "skip": left on the server, reported once in the log and to
// notify_command, however many polls see it; the report is forgotten when
// the message is gone.
func TestPoll_OversizeSkipReportedOnce(t *testing.T) {
	for _, p := range deliveryPaths {
		t.Run(p.name, func(t *testing.T) {
			e := newRetEnv(t, p, []pop3test.Message{sized("small", 100), sized("big", 5000), sized("small2", 200)}, nil)
			e.account.MaxMessageSize = 1000
			for i := range 3 {
				res := e.at(time.Duration(i) * time.Minute)
				if !res.OK() || res.TooLarge != 1 || res.Skipped != 1 {
					t.Fatalf("poll %d: %+v, want big skipped as too large", i, res)
				}
			}
			if got := e.remainingUIDs(); !slices.Equal(got, []string{"big"}) {
				t.Errorf("server holds %q, want only big", got)
			}
			if got := e.notified(); !slices.Equal(got, []string{"oversize test big"}) {
				t.Errorf("notify_command got %q, want one oversize event for big", got)
			}
			if n := e.logs.count("larger than max_message_size: left on the server, not fetched"); n != 1 {
				t.Errorf("warned %d times, want once", n)
			}
			notes, _ := e.store.Oversize(e.account.Key)
			if n, ok := notes["big"]; !ok || n.Size != 5000 {
				t.Errorf("store notes %+v, want big with its size", notes)
			}
			// Raised: fetched and deleted; the next poll forgets the report.
			e.account.MaxMessageSize = 0
			if res := e.at(time.Hour); res.Fetched != 1 || res.Deleted != 1 {
				t.Fatalf("poll after raising max_message_size: %+v", res)
			}
			e.at(2 * time.Hour)
			if notes, _ := e.store.Oversize(e.account.Key); len(notes) != 0 {
				t.Errorf("store still has notes %+v after the message went", notes)
			}
		})
	}
}

// oversize = "delete": deleted without delivery, logged as such, recorded
// as deleted undelivered and counted; other messages are unaffected.
func TestPoll_OversizeDelete(t *testing.T) {
	for _, p := range deliveryPaths {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", p.name, keep), func(t *testing.T) {
				e := newRetEnv(t, p, []pop3test.Message{sized("small", 100), sized("big", 5000)}, nil)
				e.account.Keep, e.account.MaxMessageSize, e.account.OversizeDelete = keep, 1000, true
				res := e.at(0)
				wantDeleted := 1
				if !keep {
					wantDeleted = 2
				}
				if !res.OK() || res.Fetched != 1 || res.Deleted != wantDeleted || res.DeletedUndelivered != 1 || res.TooLarge != 0 {
					t.Fatalf("poll %+v, want small fetched, big deleted undelivered", res)
				}
				if got := e.deliveredUIDs(); !slices.Equal(got, []string{"small"}) {
					t.Errorf("delivered %q, want only small", got)
				}
				if rec := e.seen()["big"]; rec.State != state.Deleted || !rec.Delivered.IsZero() {
					t.Errorf("record of big = %+v, want deleted with no delivery time", rec)
				}
				if slices.Contains(e.remainingUIDs(), "big") {
					t.Error("big is still on the server")
				}
				if n := e.logs.count("deleted without delivery (oversize = delete)"); n != 1 {
					t.Errorf("logged the undelivered deletion %d times, want once", n)
				}
				if len(e.notified()) != 0 {
					t.Errorf("notified %q for a deletion the user asked for", e.notified())
				}
			})
		}
	}
}

// A message some target already accepted is not deleted for its size: it
// is not undelivered.
func TestPoll_OversizeDeleteSparesPartialDelivery(t *testing.T) {
	e := newRetEnv(t, deliveryPaths[1], []pop3test.Message{sized("big", 5000)}, nil)
	e.account.MaxMessageSize, e.account.OversizeDelete = 1000, true
	setProgress(t, e.env, "big", state.Progress{Done: map[string]time.Time{"elsewhere": e.now}})
	if res := e.at(0); res.Deleted != 0 || res.TooLarge != 1 || len(e.remainingUIDs()) != 1 {
		t.Fatalf("poll %+v, want big left on the server", res)
	}
}

// After `fetchd import-state` (Store.ImportSeen: no sizes, the other
// program's fetch time), delete_after counts from that time; a message is
// deleted from the poll after the one that recorded its size, and one
// imported without a time counts from the import.
func TestPoll_DeleteAfterImportedState(t *testing.T) {
	e := newRetEnv(t, deliveryPaths[0], []pop3test.Message{sized("old", 100), sized("undated", 100), sized("new", 100)}, nil)
	e.account.Keep, e.account.DeleteAfter = true, 24*time.Hour
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	added, _, err := e.store.ImportSeen(e.account.Key, []state.Imported{{UIDL: "old", At: t0.Add(-48 * time.Hour)}, {UIDL: "undated"}}, t0)
	if err != nil || added != 2 {
		t.Fatalf("ImportSeen = %d, %v", added, err)
	}
	if res := e.at(0); res.Fetched != 1 || res.Deleted != 0 {
		t.Fatalf("first poll %+v, want only new fetched, nothing deleted", res)
	}
	if rec := e.seen()["old"]; rec.Size != 100 {
		t.Errorf("record of old = %+v, want the listed size recorded", rec)
	}
	if res := e.at(time.Minute); res.Deleted != 1 || res.Expired != 1 {
		t.Fatalf("second poll %+v, want old deleted", res)
	}
	// A day later new (delivered by fetchd, its size known) goes;
	// undated first gets its size recorded, and goes with the next poll.
	if res := e.at(25 * time.Hour); res.Deleted != 1 || !slices.Equal(e.remainingUIDs(), []string{"undated"}) {
		t.Fatalf("a day later %+v, server %q: want new deleted, undated's size recorded", res, e.remainingUIDs())
	}
	if res := e.at(26 * time.Hour); res.Deleted != 1 || len(e.remainingUIDs()) != 0 {
		t.Fatalf("the poll after %+v, server %q: want undated deleted", res, e.remainingUIDs())
	}
	if got := e.deliveredUIDs(); !slices.Equal(got, []string{"new"}) {
		t.Errorf("delivered %q, want only new (the others came through the other program)", got)
	}
}

// A DELE of a known UIDL needs a record of fetchd's own delivery whose size
// the listing confirms. Each case is a way a record without one came to
// be; each must end with the message delivered, never deleted unseen.
func TestPoll_NoDeleteWithoutAConfirmedDelivery(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		setup func(t *testing.T, e *retEnv)
	}{
		{"marked seen, delete_after passed", func(t *testing.T, e *retEnv) {
			// --mark-seen in keep mode: what was on the server may never
			// have been fetched by anyone.
			e.account.Keep, e.account.InitialSyncLimit, e.account.Sync = true, 1, SyncMarkSeen
			if res := e.at(0); res.Err != nil || res.MarkedSeen != 1 {
				t.Fatalf("mark-seen poll %+v", res)
			}
			e.account.Sync, e.account.DeleteAfter = SyncNormal, 24*time.Hour
			if res := e.at(48 * time.Hour); res.Deleted != 0 || len(e.remainingUIDs()) != 1 {
				t.Fatalf("poll past delete_after %+v: a marked-seen message was deleted", res)
			}
			e.account.Keep = false // then the user switches to delete mode
		}},
		{"imported, then delete mode", func(t *testing.T, e *retEnv) {
			if _, _, err := e.store.ImportSeen(e.account.Key, []state.Imported{{UIDL: "a", At: t0.Add(-time.Hour)}}, t0); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted undelivered (oversize), UIDL reused", func(t *testing.T, e *retEnv) {
			rec := state.Record{State: state.Deleted, Deleted: t0.Add(-time.Hour)}
			if err := e.store.MarkDeliveredBatch(e.account.Key, map[string]state.Record{"a": rec}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRetEnv(t, deliveryPaths[0], []pop3test.Message{sized("a", 100)}, nil)
			tt.setup(t, e)
			res := e.at(72 * time.Hour)
			if !res.OK() || res.Fetched != 1 {
				t.Fatalf("delete-mode poll %+v, want a delivered", res)
			}
			if got := e.deliveredUIDs(); !slices.Equal(got, []string{"a"}) {
				t.Errorf("delivered %q, want a once", got)
			}
		})
	}
}

func TestMayDeleteAndExpiry(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := t0.Add(-48 * time.Hour)
	listed := func(size int64) pop3.MessageInfo { return pop3.MessageInfo{Num: 1, UID: "a", Size: size} }
	tests := []struct {
		name   string
		rec    state.Record
		m      pop3.MessageInfo
		delete bool    // mayDelete
		expiry verdict // keep mode, delete_after 24h, at t0
	}{
		{"delivered, same size", state.Record{State: state.Delivered, Delivered: old, Size: 100}, listed(100), true, expireIt},
		{"delivered, other size", state.Record{State: state.Delivered, Delivered: old, Size: 100}, listed(99), false, keepIt},
		{"delivered, LIST gave no size", state.Record{State: state.Delivered, Delivered: old, Size: 100}, listed(-1), false, keepIt},
		{"imported, no size", state.Record{State: state.Delivered, Delivered: old}, listed(100), false, sizeUnknown},
		{"imported, no size either side", state.Record{State: state.Delivered, Delivered: old}, listed(-1), false, keepIt},
		{"marked seen", state.Record{State: state.Delivered, Size: 100}, listed(100), false, keepIt},
		{"deleted undelivered", state.Record{State: state.Deleted, Deleted: old}, listed(100), false, keepIt},
		{"delivered recently", state.Record{State: state.Delivered, Delivered: t0.Add(-time.Hour), Size: 100}, listed(100), true, keepIt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayDelete(tt.rec, tt.m); got != tt.delete {
				t.Errorf("mayDelete = %v, want %v", got, tt.delete)
			}
			s := &session{account: &Account{Keep: true, DeleteAfter: 24 * time.Hour}}
			if got := s.expiry(tt.rec, tt.m, t0); got != tt.expiry {
				t.Errorf("expiry = %v, want %v", got, tt.expiry)
			}
		})
	}
}
