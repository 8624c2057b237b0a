package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
)

// fakeResolver answers from a table keyed "_service._proto.name"; a missing
// key is NXDOMAIN, an entry in fail is a server failure.
type fakeResolver struct {
	records map[string][]*net.SRV
	fail    map[string]error
	asked   []string
}

func (f *fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	f.asked = append(f.asked, key)
	if err := f.fail[key]; err != nil {
		return "", nil, err
	}
	recs, ok := f.records[key]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
	}
	return key, recs, nil
}

func srv(target string, port, prio, weight uint16) *net.SRV {
	return &net.SRV{Target: target, Port: port, Priority: prio, Weight: weight}
}

func TestLookupSRV(t *testing.T) {
	first := func(n int) int { return 0 }
	tests := []struct {
		name    string
		records map[string][]*net.SRV
		fail    map[string]error
		want    []string // "host:port tls"
		wantErr string
		asked   int
	}{
		{name: "pop3s wins over pop3 whatever the priorities",
			records: map[string][]*net.SRV{
				"_pop3s._tcp.example.com": {srv("pop.example.com.", 995, 10, 1)},
				"_pop3._tcp.example.com":  {srv("pop.example.com.", 110, 0, 1)},
			},
			want: []string{"pop.example.com:995 implicit"}, asked: 1},
		{name: "pop3 only means STLS",
			records: map[string][]*net.SRV{"_pop3._tcp.example.com": {srv("mail.example.com.", 110, 0, 0)}},
			want:    []string{"mail.example.com:110 starttls"}, asked: 2},
		{name: "priority orders the targets",
			records: map[string][]*net.SRV{"_pop3s._tcp.example.com": {
				srv("backup.example.com.", 995, 20, 0), srv("main.example.com.", 995, 10, 0)}},
			want: []string{"main.example.com:995 implicit", "backup.example.com:995 implicit"}, asked: 1},
		{name: "a dot for pop3s falls through to pop3",
			records: map[string][]*net.SRV{
				"_pop3s._tcp.example.com": {srv(".", 0, 0, 0)},
				"_pop3._tcp.example.com":  {srv("pop.example.com.", 110, 0, 0)},
			},
			want: []string{"pop.example.com:110 starttls"}, asked: 2},
		{name: "dots for both: not offered",
			records: map[string][]*net.SRV{
				"_pop3s._tcp.example.com": {srv(".", 0, 0, 0)},
				"_pop3._tcp.example.com":  {srv(".", 0, 0, 0)},
			},
			wantErr: "offers no POP3", asked: 2},
		{name: "no records at all", records: nil, want: nil, asked: 2},
		{name: "a failing lookup is an error, not an absence",
			fail:    map[string]error{"_pop3s._tcp.example.com": &net.DNSError{Err: "server misbehaving", IsTemporary: true}},
			wantErr: "SRV lookup of _pop3s._tcp.example.com", asked: 1},
		{name: "port 0 and an empty target are skipped",
			records: map[string][]*net.SRV{"_pop3s._tcp.example.com": {
				srv("zero.example.com.", 0, 0, 0), srv("", 995, 0, 0), srv("ok.example.com.", 995, 5, 0)}},
			want: []string{"ok.example.com:995 implicit"}, asked: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeResolver{records: tt.records, fail: tt.fail}
			got, err := LookupSRV(context.Background(), r, "example.com", first)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, s := range got {
				gotS = append(gotS, fmt.Sprintf("%s:%d %s", s.Host, s.Port, s.TLS))
				if !strings.HasPrefix(s.Via, "SRV _pop3") {
					t.Errorf("Via %q does not name the SRV record", s.Via)
				}
			}
			if !slices.Equal(gotS, tt.want) {
				t.Errorf("got %q, want %q", gotS, tt.want)
			}
			if len(r.asked) != tt.asked {
				t.Errorf("asked %q, want %d lookups", r.asked, tt.asked)
			}
		})
	}
	if !errors.Is(func() error {
		_, err := LookupSRV(context.Background(), &fakeResolver{records: map[string][]*net.SRV{
			"_pop3s._tcp.example.com": {srv(".", 0, 0, 0)}}}, "example.com", first)
		return err
	}(), ErrNotOffered) {
		t.Error("a lone dot target is not ErrNotOffered")
	}
}

// RFC 2782's weighted choice: with the random number fixed, the record
// whose running sum first reaches it is taken; zero weights come first in
// the list, so only a draw of 0 picks them.
func TestOrder_Weights(t *testing.T) {
	recs := []*net.SRV{srv("a.", 1, 0, 10), srv("b.", 1, 0, 0), srv("c.", 1, 0, 30), srv("d.", 1, 1, 5)}
	tests := []struct {
		draws []int // what intn returns, in turn
		want  string
	}{
		{[]int{0, 0, 0, 0}, "b. a. c. d."},   // 0 picks the zero weight first
		{[]int{40, 0, 0, 0}, "c. b. a. d."},  // 40 = the whole sum: the last
		{[]int{5, 30, 0, 0}, "a. c. b. d."},  // 5 falls in a's 1..10
		{[]int{11, 10, 0, 0}, "c. a. b. d."}, // 11 falls in c's 11..40
		{[]int{99, -1, 0, 0}, "b. a. c. d."}, // out-of-range draws: first left
	}
	for _, tt := range tests {
		draws := tt.draws
		intn := func(n int) int { d := draws[0]; draws = draws[1:]; return d }
		var got []string
		for _, r := range Order(recs, intn) {
			got = append(got, r.Target)
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("draws %v: order %q, want %q", tt.draws, g, tt.want)
		}
	}
}

// Over every possible draw, a record is chosen first as often as RFC 2782's
// algorithm says: the draw is from 0 to the sum inclusive, so with weights 1
// and 3 (sum 4) the first-listed record takes draws 0 and 1, the other 2 to 4.
func TestOrder_Proportions(t *testing.T) {
	recs := []*net.SRV{srv("light.", 1, 0, 1), srv("heavy.", 1, 0, 3)}
	counts := map[string]int{}
	for draw := 0; draw <= 4; draw++ {
		intn := func(m int) int {
			if m != 5 && m != 2 && m != 4 {
				t.Fatalf("intn(%d): want sum+1 = 5, then 2 or 4 for the one left", m)
			}
			return draw % m
		}
		counts[Order(recs, intn)[0].Target]++
	}
	if counts["heavy."] != 3 || counts["light."] != 2 {
		t.Errorf("first choices %v, want heavy 3 and light 2", counts)
	}
}
