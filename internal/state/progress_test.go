package state

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	cet       = time.FixedZone("CET", 3600)
	lmt       = time.FixedZone("LMT", 3600+7) // RFC 3339 cannot write the 7 seconds
	lmtpAlice = "lmtp /run/dovecot/lmtp\x00alice@example.com"
	smtpJoerg = "smtp smtp.example.com:25\x00jörg@example.com"
)

func TestProgressCodec_RoundTrip(t *testing.T) {
	long := strings.Repeat("x", 2000)
	euro := strings.Repeat("€", 400) // 3 bytes each: 1024 would split one
	tests := []struct {
		name string
		in   Progress
		want *Progress // nil: same as in
	}{
		{"Empty", Progress{}, nil},
		{"Done", Progress{Done: map[string]time.Time{"maildir /m": t1, lmtpAlice: t2, smtpJoerg: t2}, Spool: "/spool/a b"}, nil},
		{"OtherZones", Progress{Done: map[string]time.Time{"a": t1.In(cet), "b": t1.In(lmt)}, FailedAt: t2.In(lmt), Attempts: 1}, nil},
		{"Failed", Progress{Failed: true, Reason: "550 5.1.1 no such user", FailedAt: t2, Attempts: 3, Quarantined: true}, nil},
		{"TemporaryFailure", Progress{Done: map[string]time.Time{"a": t1}, Reason: "451 try later", FailedAt: t2, Attempts: 1}, nil},
		{"TimeLimits", Progress{Done: map[string]time.Time{
			"first": time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC),
			"last":  time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			"epoch": time.Unix(0, 0),
		}}, nil},
		{"ReasonAtLimit", Progress{Reason: long[:MaxReasonLen], FailedAt: t1}, nil},
		{"ReasonTruncated", Progress{Reason: long, FailedAt: t1}, &Progress{Reason: long[:MaxReasonLen], FailedAt: t1}},
		{"ReasonTruncatedAtCharacter", Progress{Reason: euro, FailedAt: t1}, &Progress{Reason: euro[:1023], FailedAt: t1}},
		{"ReasonInvalidUTF8", Progress{Reason: "bad \xff byte", FailedAt: t1}, &Progress{Reason: "bad \uFFFD byte", FailedAt: t1}},
		{"Planned", Progress{Planned: map[string]string{"maildir /m": "/m/new/1735787045.M6P7.host,S=9", "maildir /ü": "/ü/new/x"},
			Done: map[string]time.Time{"maildir /m": t1}, Spool: "/spool/a", SpoolSize: 1 << 40}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.in
			if tt.want != nil {
				want = *tt.want
			}
			b, err := encodeProgress(tt.in)
			if err != nil {
				t.Fatalf("encodeProgress(%+v): %v", tt.in, err)
			}
			got, err := decodeProgress(b)
			if err != nil {
				t.Fatalf("decodeProgress(%q): %v", b, err)
			}
			if got.Done == nil || !progressEqual(got, want) {
				t.Errorf("round trip: got %+v, want %+v", got, want)
			}
			if len(got.Reason) > MaxReasonLen {
				t.Errorf("stored reason is %d bytes, want at most %d", len(got.Reason), MaxReasonLen)
			}
		})
	}
}

// The encoding is the on-disk format: changing it breaks stored progress.
func TestProgressCodec_Layout(t *testing.T) {
	tests := []struct {
		in   Progress
		want string
	}{
		{Progress{}, "\x02{}"},
		{Progress{Done: map[string]time.Time{}, Planned: map[string]string{}}, "\x02{}"},
		{
			Progress{Done: map[string]time.Time{"b\x00r": t2.In(cet), "a": t1}, Spool: "/s", Failed: true,
				Reason: "r", FailedAt: t2, Attempts: 3, Quarantined: true,
				Planned: map[string]string{"m2": "/m2/new/b", "m": "/m/new/a"}, SpoolSize: 1234},
			"\x02" + `{"done":{"a":"2025-01-02T03:04:05.000000006Z","b\u0000r":"2025-01-02T04:00:00Z"},"spool":"/s",` +
				`"failed":true,"reason":"r","failed_at":"2025-01-02T04:00:00Z","attempts":3,"quarantined":true,` +
				`"planned":{"m":"/m/new/a","m2":"/m2/new/b"},"spool_size":1234}`,
		},
	}
	for _, tt := range tests {
		got, err := encodeProgress(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("encodeProgress(%+v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestEncodeProgress_Rejects(t *testing.T) {
	tests := []struct {
		name    string
		p       Progress
		wantErr string
	}{
		{"EmptyTargetID", Progress{Done: map[string]time.Time{"": t1}}, "empty target id"},
		{"TargetIDNotUTF8", Progress{Done: map[string]time.Time{"lmtp \xff": t1}}, "not valid UTF-8"},
		{"ZeroAcceptTime", Progress{Done: map[string]time.Time{"a": {}}}, "zero acceptance time"},
		{"SpoolNotUTF8", Progress{Spool: "/spool/\xfe"}, "spool path"},
		{"NegativeAttempts", Progress{Attempts: -1}, "negative attempts"},
		{"FailedWithoutTime", Progress{Failed: true}, "failed without a failure time"},
		{"YearAfter9999", Progress{Done: map[string]time.Time{"a": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "outside the years"},
		{"YearAfter9999InUTC", Progress{FailedAt: time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600))}, "outside the years"},
		{"YearBefore0", Progress{FailedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}, "outside the years"},
		{"PlannedEmptyTargetID", Progress{Planned: map[string]string{"": "/m/new/a"}}, "empty planned target id"},
		{"PlannedTargetIDNotUTF8", Progress{Planned: map[string]string{"m\xff": "/m/new/a"}}, "not valid UTF-8"},
		{"PlannedPathNotUTF8", Progress{Planned: map[string]string{"m": "/m/new/\xff"}}, "not valid UTF-8"},
		{"PlannedPathRelative", Progress{Planned: map[string]string{"m": "m/new/a"}}, "not absolute"},
		{"PlannedPathEmpty", Progress{Planned: map[string]string{"m": ""}}, "not absolute"},
		{"NegativeSpoolSize", Progress{Spool: "/s", SpoolSize: -1}, "negative spool size"},
		{"SpoolSizeWithoutSpool", Progress{SpoolSize: 10}, "spool size without a spool path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeProgress(tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("encodeProgress = %q, %v; want an error containing %q", b, err, tt.wantErr)
			}
		})
	}
}

func TestDecodeProgress_Rejects(t *testing.T) {
	tests := []struct {
		name string
		b    string
	}{
		{"Empty", ""},
		{"FormatOnly", "\x01"},
		{"Format0", "\x00{}"},
		{"Format3", "\x03{}"},
		{"Format1WithPlanned", "\x01" + `{"planned":{"m":"/m/new/a"}}`},
		{"Format1WithEmptyPlanned", "\x01" + `{"planned":{}}`},
		{"Format1WithSpoolSize", "\x01" + `{"spool":"/s","spool_size":3}`},
		{"PlannedRelative", "\x02" + `{"planned":{"m":"new/a"}}`},
		{"PlannedNotAMap", "\x02" + `{"planned":["/a"]}`},
		{"NegativeSpoolSize", "\x02" + `{"spool":"/s","spool_size":-3}`},
		{"SpoolSizeWithoutSpool", "\x02" + `{"spool_size":3}`},
		{"NotAnObject", "\x01[]"},
		{"Null", "\x01null"},
		{"LeadingSpace", "\x01 {}"},
		{"Truncated", "\x01" + `{"done":`},
		{"TrailingData", "\x01{}x"},
		{"TwoObjects", "\x01{}{}"},
		{"UnknownField", "\x01" + `{"delivered":true}`},
		{"DoneNotAMap", "\x01" + `{"done":["a"]}`},
		{"BadTime", "\x01" + `{"done":{"a":"yesterday"}}`},
		{"EmptyTargetID", "\x01" + `{"done":{"":"2025-01-02T03:04:05Z"}}`},
		{"ZeroAcceptTime", "\x01" + `{"done":{"a":"0001-01-01T00:00:00Z"}}`},
		{"FailedWithoutTime", "\x01" + `{"failed":true}`},
		{"NegativeAttempts", "\x01" + `{"attempts":-1}`},
		{"HugeAttempts", "\x01" + `{"attempts":1e100}`},
		{"ReasonTooLong", "\x01" + `{"reason":"` + strings.Repeat("x", MaxReasonLen+1) + `"}`},
		{"WrongType", "\x01" + `{"failed":"yes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := decodeProgress([]byte(tt.b)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decodeProgress(%q) = %+v, %v; want ErrCorrupt", tt.b, p, err)
			}
		})
	}
	if _, err := decodeProgress(nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("decodeProgress(nil) = %v, want ErrCorrupt", err)
	}
}

// Format 1 values, written by schema 2, are still read, and rewritten as
// format 2.
func TestDecodeProgress_Format1(t *testing.T) {
	b := "\x01" + `{"done":{"a":"2025-01-02T03:04:05.000000006Z"},"spool":"/s","reason":"r","failed_at":"2025-01-02T04:00:00Z","attempts":1}`
	want := Progress{Done: map[string]time.Time{"a": t1}, Spool: "/s", Reason: "r", FailedAt: t2, Attempts: 1}
	got, err := decodeProgress([]byte(b))
	if err != nil || !progressEqual(got, want) || got.Planned == nil {
		t.Fatalf("decodeProgress(%q) = %+v, %v; want %+v", b, got, err, want)
	}
	if enc, err := encodeProgress(got); err != nil || enc[0] != progressFormat2 {
		t.Errorf("re-encoded as %q, %v; want format 2", enc, err)
	}
}

// FuzzDecodeProgress: decode never panics, every error wraps ErrCorrupt, and
// whatever it accepts encodes to a value that decodes to the same Progress and
// encodes to the same bytes again. (JSON has many spellings of one value, so
// unlike FuzzDecodeRecord the first decode's input need not come back.)
func FuzzDecodeProgress(f *testing.F) {
	for _, p := range []Progress{
		{},
		{Done: map[string]time.Time{"maildir /m": t1, lmtpAlice: t2}, Spool: "/spool/x", Reason: "451", FailedAt: t2, Attempts: 1},
		{Failed: true, Reason: "550 no such user", FailedAt: t2, Attempts: 2, Quarantined: true},
		{Planned: map[string]string{"maildir /m": "/m/new/a"}, Spool: "/spool/x", SpoolSize: 99},
	} {
		b, _ := encodeProgress(p)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x01null"))
	f.Add([]byte("\x01" + `{"done":{"a":"2025-01-02T03:04:05+01:00"},"Failed":true,"failed_at":"2025-01-02T03:04:05.5Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProgress(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeProgress(%q): error %v does not wrap ErrCorrupt", b, err)
			}
			return
		}
		enc, err := encodeProgress(p)
		if err != nil {
			t.Fatalf("decodeProgress(%q) = %+v, which encodeProgress rejects: %v", b, p, err)
		}
		p2, err := decodeProgress(enc)
		if err != nil {
			t.Fatalf("decodeProgress(%q) = %+v, which encodes as %q, which does not decode: %v", b, p, enc, err)
		}
		if !progressEqual(p, p2) {
			t.Fatalf("decodeProgress(%q) = %+v, which round-trips as %+v", b, p, p2)
		}
		if again, err := encodeProgress(p2); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("encoding %+v is not stable: %q, then %q, %v", p, enc, again, err)
		}
	})
}
