package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90s", 90 * time.Second, false},
		{"15m", 15 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"2d30m10s", 48*time.Hour + 30*time.Minute + 10*time.Second, false},
		{" 7d ", 7 * 24 * time.Hour, false},
		{"0", 0, false},
		{"-5s", -5 * time.Second, false},
		{"d", 0, true},
		{"-1d", 0, true},
		{"1d-5h", 0, true},
		{"1d2d", 0, true},
		{"1dd", 0, true},
		{"30", 0, true},
		{"soon", 0, true},
		{"", 0, true},
		{"999999999d", 0, true},
		{"106751d23h", 2562047 * time.Hour, false},
		{"106751d24h", 0, true},
		{"106752d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1234", 1234, false},
		{"0", 0, false},
		{"10B", 10, false},
		{"50MB", 50_000_000, false},
		{"50 mb", 50_000_000, false},
		{"1KB", 1000, false},
		{"1KiB", 1024, false},
		{"1MiB", 1 << 20, false},
		{"2GiB", 2 << 30, false},
		{"1.5GB", 1_500_000_000, false},
		{"0.5KiB", 512, false},
		{"1TB", 1e12, false},
		{"0.5B", 0, true},
		{"1.0001KB", 0, true},
		{"50XB", 0, true},
		{"MB", 0, true},
		{"-1", 0, true},
		{"1e6", 0, true},
		{"", 0, true},
		{"1.2.3MB", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
