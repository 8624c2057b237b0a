package fetch

import (
	"strings"
	"testing"
	"time"
)

func TestReturnPath(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		want   string
		wantOK bool
	}{
		{"plain", "Return-Path: <a@example.com>\r\nFrom: b\r\n\r\n", "a@example.com", true},
		{"lower case, LF", "from: x\nreturn-path:<a@b.c>\n\nbody", "a@b.c", true},
		{"folded", "Return-Path:\r\n <a@b.c>\r\n\r\n", "a@b.c", true},
		{"null sender", "Return-Path: <>\r\n\r\n", "", true},
		{"absent", "From: a@b.c\r\n\r\nReturn-Path: <in@body>\r\n", "", false},
		{"first one wins", "Return-Path: <first@x>\r\nReturn-Path: <second@x>\r\n\r\n", "first@x", true},
		{"no brackets", "Return-Path: a@b.c\r\n\r\n", "", false},
		{"space inside", "Return-Path: <a b@c>\r\n\r\n", "", false},
		{"shell metacharacters kept verbatim", "Return-Path: <a$(reboot)@x>\r\n\r\n", "a$(reboot)@x", true},
		{"empty", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := returnPath([]byte(tc.head))
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestReceived(t *testing.T) {
	now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	got := received("pop.example.com", "myhost", "POP3S", "v1", "alice@example.com", now)
	want := "from pop.example.com by myhost with POP3S (fetchd v1)\r\n\tfor <alice@example.com>;\r\n\tThu, 26 Nov 2026 06:00:00 +0000"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := received("s", "h", "POP3", "v", "", now); strings.Contains(got, "for") {
		t.Errorf("no recipient, got %q", got)
	}
}

func FuzzReturnPath(f *testing.F) {
	f.Add([]byte("Return-Path: <a@example.com>\r\n\r\n"))
	f.Add([]byte("Return-Path:\r\n <>\r\n"))
	f.Add([]byte("X: y\n\tz\nreturn-path: <<a>>\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		addr, ok := returnPath(head)
		if !ok && addr != "" {
			t.Fatalf("not ok but address %q", addr)
		}
		if strings.ContainsAny(addr, "<>\r\n\x00 \t") {
			t.Fatalf("address %q holds a character that breaks an envelope", addr)
		}
	})
}
