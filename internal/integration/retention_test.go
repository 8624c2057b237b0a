package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fetchd/internal/pop3"
	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// serverListing returns the server's UIDL listing of b's mailbox, with
// LIST's sizes, as a POP3 client of our own sees it.
func serverListing(t *testing.T, b *testharness.Box) []pop3.MessageInfo {
	t.Helper()
	pem, err := os.ReadFile(b.D.Cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pop3.Dial(ctx, pop3.Config{Addr: b.D.POP3S, TLS: pop3.TLSImplicit,
		TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uidl, uerr, list, lerr := c.LoginAndList(ctx, b.User, b.D.Password, pop3.AuthAuto)
	if uerr != nil || lerr != nil {
		t.Fatalf("listing: %v, %v", uerr, lerr)
	}
	sizes := map[int]int64{}
	for _, m := range list {
		sizes[m.Num] = m.Size
	}
	for i := range uidl {
		uidl[i].Size = sizes[uidl[i].Num]
	}
	if err := c.QuitNoWait(ctx); err != nil {
		t.Fatal(err)
	}
	return uidl
}

func uidlsOf(ms []pop3.MessageInfo) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.UID)
	}
	slices.Sort(out)
	return out
}

// Acceptance 3: delete_after = "2s" deletes on the server only the
// messages delivered more than 2 s ago; those delivered since stay.
func TestDovecot_DeleteAfter(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	first := testcorpus.Mixed(5, 31)
	b.Seed(t, first)
	a := b.ImplicitTLS()
	a.Keep = true
	a.Extra = "delete_after = \"2s\"\n"
	cfg := b.Config(t, a)

	r := once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != len(first) {
		t.Fatalf("first run fetched %d, want %d", n, len(first))
	}
	old := uidlsOf(serverListing(t, b))
	if len(old) != len(first) {
		t.Fatalf("server lists %d messages after a keep-mode run, want %d", len(old), len(first))
	}
	time.Sleep(2500 * time.Millisecond)
	second := testcorpus.Mixed(3, 32)
	b.Seed(t, second)
	all := uidlsOf(serverListing(t, b))
	newer := slices.DeleteFunc(slices.Clone(all), func(u string) bool { return slices.Contains(old, u) })
	if len(newer) != len(second) {
		t.Fatalf("server lists %d new messages, want %d", len(newer), len(second))
	}

	r = once(t, b, cfg)
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, fmt.Sprintf("%d fetched, %d deleted, 0 failed, %d of the deleted past delete_after", len(second), len(first), len(first))) {
		t.Errorf("second run: %q, want %d fetched and the %d old ones deleted past delete_after", r.Stdout, len(second), len(first))
	}
	if got := uidlsOf(serverListing(t, b)); !slices.Equal(got, newer) {
		t.Errorf("server lists %q after the second run, want only the messages delivered since: %q", got, newer)
	}
	checkDelivered(t, b.Out, append(slices.Clone(first), second...))
}

// maildirState lists every entry under dir with its size and mtime.
func maildirState(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "%s %d %s\n", p, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// Acceptance 3: `fetchd once --dry-run` changes nothing: the server's UIDL
// listing, the maildir and the store are identical afterwards; it lists
// the messages a poll would fetch and skip.
func TestDovecot_DryRun(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := testcorpus.Mixed(8, 33)
	b.Seed(t, ms)
	a := b.ImplicitTLS()
	a.Keep = true
	a.Extra = "delete_after = \"30d\"\nmax_messages_per_poll = 3\n"
	cfg := b.Config(t, a)

	r := once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != 3 {
		t.Fatalf("first run fetched %d, want 3 (max_messages_per_poll)", n)
	}
	listing := serverListing(t, b)
	maildir := maildirState(t, b.Out)
	store, err := os.ReadFile(b.State)
	if err != nil {
		t.Fatal(err)
	}
	storeFI, err := os.Stat(b.State)
	if err != nil {
		t.Fatal(err)
	}

	r = runFetchd(t, b, "once", "-c", cfg, "--dry-run")
	wantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "t: dry run, nothing changed: would fetch 3 (") ||
		!strings.Contains(r.Stdout, "delete 0, skip 2; 3 delivered before and kept") {
		t.Errorf("dry run said %q, want 3 to fetch, 2 beyond the limit, 3 kept", r.Stdout)
	}
	// The 5 messages not yet fetched, in the server's order: 3 to fetch,
	// then 2 beyond max_messages_per_poll.
	var lines []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, "  ") {
			lines = append(lines, l)
		}
	}
	pending := listing[3:]
	if len(lines) != len(pending) {
		t.Fatalf("dry run listed %d messages, want %d:\n%s", len(lines), len(pending), r.Stdout)
	}
	for i, m := range pending {
		what := "fetch"
		if i >= 3 {
			what = "skip "
		}
		want := fmt.Sprintf("  %s  #%d  %s  %d bytes", what, m.Num, m.UID, m.Size)
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], want)
		}
		if i >= 3 && !strings.Contains(lines[i], "beyond max_messages_per_poll = 3") {
			t.Errorf("line %d = %q, want the per-poll limit as the reason", i, lines[i])
		}
	}

	if got := serverListing(t, b); !slices.Equal(got, listing) {
		t.Errorf("server listing changed:\n%v\nwas:\n%v", got, listing)
	}
	if got := maildirState(t, b.Out); got != maildir {
		t.Errorf("maildir changed:\n%s\nwas:\n%s", got, maildir)
	}
	after, err := os.ReadFile(b.State)
	if err != nil {
		t.Fatal(err)
	}
	afterFI, err := os.Stat(b.State)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, store) || !afterFI.ModTime().Equal(storeFI.ModTime()) {
		t.Errorf("store changed: %d bytes at %v, was %d at %v", len(after), afterFI.ModTime(), len(store), storeFI.ModTime())
	}

	// What the dry run listed is what the next poll does.
	r = once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != 3 {
		t.Errorf("the poll after the dry run fetched %d, want the 3 it listed", n)
	}
}
