package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestListingLimit_Check(t *testing.T) {
	tests := []struct {
		name     string
		limit    listingLimit
		n, cost  int
		wantText string // "": within the limit
	}{
		{"LIST at the line cap", listListing, 500_000, 500_000 * entrySize, ""},
		{"LIST past the line cap", listListing, 500_001, 500_001 * entrySize, "server lists more than 500000 messages in reply to LIST"},
		{"UIDL at the heap cap", uidlListing, 1000, 16 << 20, ""},
		{"UIDL past the heap cap", uidlListing, 1000, 16<<20 + 1, "UIDL listing would take more than 16384 KiB"},
		{"CAPA at the line cap", capaListing, 256, 1000, ""},
		{"CAPA past the line cap", capaListing, 257, 1000, "more than 256 capabilities"},
		{"CAPA past the heap cap", capaListing, 10, 64<<10 + 1, "more than 64 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			verb := strings.Fields(tc.name)[0]
			err := tc.limit.check(verb, tc.n, tc.cost)
			switch {
			case tc.wantText == "" && err != nil:
				t.Errorf("got %v, want none", err)
			case tc.wantText != "" && (!errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.wantText)):
				t.Errorf("got %v, want ErrProtocol saying %q", err, tc.wantText)
			}
		})
	}
}

// TestListingLimit_Memory: the caps keep a listing's entries, at their
// largest, within ~32 MiB.
func TestListingLimit_Memory(t *testing.T) {
	for _, l := range []listingLimit{listListing, uidlListing} {
		// What the entries collected cost, plus the slice they are copied
		// into at the end.
		n := min(l.lines, l.heap/l.perLine)
		if most := l.heap + n*entrySize; most > 32<<20 {
			t.Errorf("%+v: up to %d MiB", l, most>>20)
		}
	}
}

func TestEntries(t *testing.T) {
	for _, n := range []int{0, 1, 16, 17, 4096, 10_000} {
		var e entries
		for i := range n {
			e.add(MessageInfo{Num: i + 1})
		}
		got := e.all()
		if len(got) != n || (n == 0) != (got == nil) {
			t.Fatalf("%d added: got %d entries (nil %v)", n, len(got), got == nil)
		}
		for i, mi := range got {
			if mi.Num != i+1 {
				t.Fatalf("%d added: entry %d is %d", n, i, mi.Num)
			}
		}
	}
}

func TestConfig_DrainLimits(t *testing.T) {
	tests := []struct {
		maxSize   int64
		timeout   time.Duration
		wantBytes int64
		wantTime  time.Duration
	}{
		{0, time.Minute, 256 << 20, 4 * time.Minute},
		{10, time.Second, 1 << 20, 2 * time.Minute},
		{5 << 20, 300 * time.Millisecond, 20 << 20, 2 * time.Minute},
		{math.MaxInt64, time.Minute, math.MaxInt64 / 4 * 4, 4 * time.Minute},
	}
	for _, tc := range tests {
		cfg := Config{MaxMessageSize: tc.maxSize, Timeout: tc.timeout}
		if b, d := cfg.drainLimits(); b != tc.wantBytes || d != tc.wantTime {
			t.Errorf("MaxMessageSize %d, Timeout %s: got %d octets, %s; want %d, %s", tc.maxSize, tc.timeout, b, d, tc.wantBytes, tc.wantTime)
		}
	}
}

func TestConversation_Limits(t *testing.T) {
	loggedIn := func(steps ...string) []string { return script(hello, loginOK, steps) }
	lines := func(n int, format string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	// listingThenNoop runs op, which must fail, then NOOP, which must not
	// be sent.
	listingThenNoop := func(op func(context.Context, *Client) error) func(context.Context, *testing.T, *Client) error {
		return func(ctx context.Context, t *testing.T, c *Client) error {
			return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
				err := op(ctx, c)
				if err2 := c.Noop(ctx); !errors.Is(err2, ErrBroken) {
					t.Errorf("noop after %v: got %v, want ErrBroken", err, err2)
				}
				return err
			})
		}
	}
	list := func(ctx context.Context, c *Client) error { _, err := c.List(ctx); return err }
	const tooLarge = "+OK\r\n" + "Subject: big\r\n\r\n"
	tests := []convTest{
		{name: "CapaAtLimit",
			script: []string{"S: +OK ready", "C: CAPA", "R: +OK\r\n" + lines(256, "X-CAP-%d arg\r\n") + ".\r\n"}},
		{name: "CapaEndless", wantIs: ErrProtocol, wantTemp: true,
			script:   []string{"S: +OK ready", "C: CAPA", "~R: +OK\r\n" + lines(5000, "X-CAP-%d arg\r\n"), "HANG"},
			wantText: "more than 256 capabilities"},
		{name: "ListPastLineCap", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: LIST", "~R: +OK\r\n"+lines(500_001, "%d 100\r\n")+".\r\n", "HANG"), run: listingThenNoop(list),
			wantText: "more than 500000 messages"},
		{name: "UIDLPastHeapCap", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: UIDL", "~R: +OK\r\n"+lines(40_000, "%[1]d %0500[1]d\r\n"), "HANG"), run: listingThenNoop(uidlOp),
			wantText: "UIDL listing would take more than 16384 KiB"},
		{name: "TooLargeDrainBounded", cfg: withMaxSize(10), wantIs: ErrBroken, wantTemp: true,
			script: loggedIn("C: RETR 1", "~R: "+tooLarge+strings.Repeat(strings.Repeat("y", 76)+"\r\n", 30_000), "HANG"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					if _, err := io.ReadAll(rc); !errors.Is(err, ErrMessageTooLarge) {
						t.Errorf("read: got %v, want ErrMessageTooLarge", err)
					}
					return rc.Close() // 2.3 MB follow, unterminated: 1 MiB is drained
				})
			},
			wantText: "gave up after discarding 1048576 octets"},
		{name: "DrainTimeBounded", wantIs: errAny, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: +OK\r\n", "~T 2ms: "+strings.Repeat("z\r\n", 500)),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					return rc.(*retrBody).drain(1<<30, 100*time.Millisecond)
				})
			},
			wantText: "gave up after 100ms of discarding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}
