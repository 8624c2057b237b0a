package campaign

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/internal/fetch"
)

// The storage campaign (issue 4): ENOSPC, EROFS or EPERM in the maildir, the
// spool or the state store must be a temporary failure — no DELE for a
// message that is not delivered, no partial file in new/, a state store that
// still opens — and delivery must resume, each message arriving once, when
// the storage is back.

// storageFigure is one scenario's line in docs/RELIABILITY.md.
type storageFigure struct {
	Scenario, Fault, Seen string
	Messages              int
	DuringFault           int // delivered (recorded) during the fault polls
	TempFailed, PermFail  int // per-message failures in the first fault poll
	PollErr               bool
	DeleUndelivered       int
	Partial               int
	StoreOK               bool
	After                 int // delivered after the storage was back
	Dup, Missing, Left    int
	Result                string // PASS or FAIL: the scenario's assertions
}

// storageScenario sets up a world with the fault in place; the returned
// function removes the fault.
type storageScenario struct {
	name, fault string
	setup       func(t *testing.T, n int) (*storageWorld, func())
}

func TestStorageFaults(t *testing.T) {
	storageNeedRoot(t)
	n, faultPolls := 6, 2
	if *campaignSize == "full" {
		n, faultPolls = 40, 3
	}
	var figures []storageFigure
	for _, sc := range storageScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			w, restore := sc.setup(t, n)
			fig := storageFigure{Scenario: sc.name, Fault: sc.fault, Messages: len(w.want)}
			// Recorded even when the scenario fails: a failing figure is the
			// point of a campaign.
			defer func() {
				fig.Result = "PASS"
				if t.Failed() {
					fig.Result = "FAIL"
				}
				figures = append(figures, fig)
			}()
			runStorageScenario(t, w, restore, faultPolls, &fig)
		})
	}
	if *campaignReport && len(figures) > 0 {
		doc := filepath.Join(fuzzModuleRoot(t), "docs", "RELIABILITY.md")
		if err := UpdateSection(doc, "storage", storageSection(figures, n, faultPolls)); err != nil {
			t.Fatal(err)
		}
	}
}

func runStorageScenario(t *testing.T, w *storageWorld, restore func(), faultPolls int, fig *storageFigure) {
	t.Helper()
	for i := range faultPolls {
		res := w.poll()
		t.Logf("fault poll %d: %+v", i+1, res)
		fig.DuringFault += res.Fetched
		if i > 0 {
			continue
		}
		fig.TempFailed, fig.PermFail, fig.PollErr = res.Failed-res.FailedPermanent, res.FailedPermanent, res.Err != nil
		if res.FailedPermanent != 0 {
			t.Errorf("storage fault reported as a permanent failure: %+v", res)
		}
		if res.Err != nil && !fetch.IsTemporary(res.Err) {
			t.Errorf("poll error %v is not temporary", res.Err)
		}
		if res.Failed == 0 && res.Err == nil {
			t.Fatalf("the fault did not show: %+v", res)
		}
		if res.Err != nil {
			fig.Seen = storageErrClass(res.Err.Error())
		}
		for uid, p := range w.failedReasons() {
			if p.Reason == "" {
				continue
			}
			if c := storageErrClass(p.Reason); fig.Seen == "" || fig.Seen == "other" {
				fig.Seen = c
			}
			if p.Failed {
				t.Errorf("message %s held as a permanent failure: %q", uid, p.Reason)
			}
		}
	}
	if fig.Seen == "" { // nothing in the store: it was full
		fig.Seen = storageErrClass(w.logs.String()) + " (log)"
	}
	if left := len(w.remaining()); left != fig.Messages-countUnique(w.deled) {
		t.Errorf("server holds %d messages, but %d were DELEd of %d", left, countUnique(w.deled), fig.Messages)
	}
	fig.StoreOK = w.checkStore()
	seen, err := w.store.Seen(w.account.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range w.deled {
		if _, ok := seen[uid]; !ok {
			t.Errorf("UIDL %s was DELEd but is not recorded in the state store", uid)
		}
	}

	restore()
	res := w.poll()
	t.Logf("recovery poll: %+v", res)
	fig.After = res.Fetched
	if !res.OK() {
		t.Errorf("the poll after the storage came back did not succeed: %+v", res)
	}
	if res := w.poll(); res.Fetched != 0 || !res.OK() {
		t.Errorf("a further poll: %+v, want nothing left to do", res)
	}
	_, fig.Dup, fig.Missing = w.copies()
	fig.Left = len(w.remaining())
	fig.DeleUndelivered = w.deledUndelivered
	fig.Partial = len(w.partial)
	if fig.Missing != 0 || fig.Left != 0 {
		t.Errorf("after recovery: %d copies missing, %d messages left on the server", fig.Missing, fig.Left)
	}
	if fig.Dup != 0 {
		// With the state store full, a message whose delivery cannot be
		// recorded must not be delivered again on every poll.
		t.Errorf("after recovery: %d duplicate copies, want every message exactly once", fig.Dup)
	}
	if left := w.spoolLeft(); len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
	if prog := w.failedReasons(); len(prog) != 0 {
		t.Errorf("progress entries left after recovery: %v", prog)
	}
}

func countUnique(s []string) int {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return len(m)
}

func storageSection(figs []storageFigure, n, faultPolls int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Storage faults\n\n")
	fmt.Fprintf(&b, "`go test ./internal/campaign -run TestStorageFaults -campaign.size=%s -campaign.report` (as root), on %s.\n",
		*campaignSize, Machine())
	fmt.Fprintf(&b, "Each scenario: %d messages (StateFillsUp: %d) on the fake POP3 server, %d polls with the fault in place, then the fault removed and polls until done.\n", n, 10*n, faultPolls)
	fmt.Fprintf(&b, "ENOSPC comes from small tmpfs mounts filled with a file (removed to bring the space back); EACCES cannot be provoked as root,\n")
	fmt.Fprintf(&b, "so EROFS (tmpfs remounted read-only) and EPERM (`chattr +i` on the maildir's tmp/) stand in for it.\n")
	fmt.Fprintf(&b, "Fetched during fault is fetch.Result.Fetched summed over the fault polls (it counts a message delivered whose record then failed).\n\n")
	fmt.Fprintf(&b, "| scenario | fault | messages | error seen | fetched during fault | temporary failures (1st poll) | permanent | poll error | DELE before delivery | partial files | store check | delivered after | duplicates | missing | left on server | result |\n")
	fmt.Fprintf(&b, "|---|---|---:|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---|\n")
	for _, f := range figs {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %d | %d | %s | %d | %d | %s | %d | %d | %d | %d | %s |\n",
			f.Scenario, f.Fault, f.Messages, f.Seen, f.DuringFault, f.TempFailed, f.PermFail, yesNo(f.PollErr),
			f.DeleUndelivered, f.Partial, okFail(f.StoreOK), f.After, f.Dup, f.Missing, f.Left, f.Result)
	}
	fmt.Fprintf(&b, "\nDuplicates are copies beyond one per message and maildir after recovery; any fails the scenario.\n")
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func okFail(b bool) string {
	if b {
		return "ok"
	}
	return "FAIL"
}

// storagePaths is where a scenario puts things: a tmpfs mount for the fault,
// and the rest on the ordinary disk.
func storagePaths(t *testing.T) (base, mnt string) {
	base = t.TempDir()
	return base, filepath.Join(base, "mnt")
}

func storageScenarios() []storageScenario {
	return []storageScenario{
		{
			name: "MaildirFull", fault: "ENOSPC: maildir on a full tmpfs (room for 2 messages)",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 1<<20)
				w := newStorageWorld(t, storageMessages(n, 24<<10), []string{filepath.Join(mnt, "Maildir")},
					filepath.Join(base, "spool"), filepath.Join(base, "state", "fetchd.db"))
				filler := storageFill(t, mnt, 60<<10)
				return w, func() { removeFile(t, filler) }
			},
		},
		{
			name: "SpoolFull", fault: "ENOSPC: spool (two maildirs) on a full tmpfs; small messages fit, large do not",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 1<<20)
				w := newStorageWorld(t, storageMessages(n, 8<<10, 96<<10),
					[]string{filepath.Join(base, "A"), filepath.Join(base, "B")},
					filepath.Join(mnt, "spool"), filepath.Join(base, "state", "fetchd.db"))
				filler := storageFill(t, mnt, 48<<10)
				return w, func() { removeFile(t, filler) }
			},
		},
		{
			name: "SecondMaildirFull", fault: "ENOSPC: the second of two maildirs on a full tmpfs (the first accepts)",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 1<<20)
				w := newStorageWorld(t, storageMessages(n, 24<<10),
					[]string{filepath.Join(base, "A"), filepath.Join(mnt, "B")},
					filepath.Join(base, "spool"), filepath.Join(base, "state", "fetchd.db"))
				filler := storageFill(t, mnt, 0)
				return w, func() { removeFile(t, filler) }
			},
		},
		{
			name: "StateFull", fault: "ENOSPC: bbolt state file on a full tmpfs",
			// A delivery whose record cannot be committed must be found
			// again, not delivered again on every poll while the store is full.
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 1<<20)
				w := newStorageWorld(t, storageMessages(n, 4<<10), []string{filepath.Join(base, "Maildir")},
					filepath.Join(base, "spool"), filepath.Join(mnt, "fetchd.db"))
				filler := storageFill(t, mnt, 0)
				t.Logf("state store on tmpfs: %d bytes free", storageFree(t, mnt))
				return w, func() { removeFile(t, filler) }
			},
		},
		{
			name: "StateFillsUp", fault: "ENOSPC: bbolt state file on a tmpfs with 8 KiB left, 10× the messages",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 1<<20)
				w := newStorageWorld(t, storageMessages(10*n, 512), []string{filepath.Join(base, "Maildir")},
					filepath.Join(base, "spool"), filepath.Join(mnt, "fetchd.db"))
				filler := storageFill(t, mnt, 8<<10)
				return w, func() { removeFile(t, filler) }
			},
		},
		{
			name: "MaildirReadOnly", fault: "EROFS: maildir tmpfs remounted read-only",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 4<<20)
				w := newStorageWorld(t, storageMessages(n, 4<<10), []string{filepath.Join(mnt, "Maildir")},
					filepath.Join(base, "spool"), filepath.Join(base, "state", "fetchd.db"))
				storageRemount(t, mnt, true)
				return w, func() { storageRemount(t, mnt, false) }
			},
		},
		{
			name: "SpoolReadOnly", fault: "EROFS: spool (two maildirs) on a tmpfs remounted read-only",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, mnt := storagePaths(t)
				storageMount(t, mnt, 4<<20)
				w := newStorageWorld(t, storageMessages(n, 4<<10),
					[]string{filepath.Join(base, "A"), filepath.Join(base, "B")},
					filepath.Join(mnt, "spool"), filepath.Join(base, "state", "fetchd.db"))
				storageRemount(t, mnt, true)
				return w, func() { storageRemount(t, mnt, false) }
			},
		},
		{
			name: "MaildirImmutable", fault: "EPERM: chattr +i on the maildir's tmp/ (ext4)",
			setup: func(t *testing.T, n int) (*storageWorld, func()) {
				base, _ := storagePaths(t)
				md := filepath.Join(base, "Maildir")
				w := newStorageWorld(t, storageMessages(n, 4<<10), []string{md},
					filepath.Join(base, "spool"), filepath.Join(base, "state", "fetchd.db"))
				tmp := filepath.Join(md, "tmp")
				storageImmutable(t, tmp, true)
				cleared := false
				// Registered after TempDir, so it runs before TempDir's removal.
				t.Cleanup(func() {
					if !cleared {
						storageImmutable(t, tmp, false)
					}
				})
				return w, func() { storageImmutable(t, tmp, false); cleared = true }
			},
		},
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
