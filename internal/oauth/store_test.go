package oauth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const testKey = "pop3://user@pop.example.com:995"

func TestStore_RoundTripModesNoTmp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(dir string) // before the first Save
	}{
		{"new directory", func(string) {}},
		{"existing loose directory is tightened", func(dir string) { os.Mkdir(dir, 0o755); os.Chmod(dir, 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "oauth")
			tc.prepare(dir)
			s := NewStore(dir)
			if tok, err := s.Load(testKey); tok != nil || err != nil {
				t.Fatalf("Load before Save = %v, %v, want nil, nil", tok, err)
			}
			want := &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt",
				Expiry: time.Now().Add(time.Hour).Round(time.Second), ExpiresIn: 3600}
			for i := 0; i < 2; i++ { // the second Save replaces the first
				if err := s.Save(testKey, want); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Load(testKey)
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessToken != want.AccessToken || got.TokenType != want.TokenType || got.RefreshToken != want.RefreshToken ||
				!got.Expiry.Equal(want.Expiry) || got.ExpiresIn != want.ExpiresIn {
				t.Errorf("Load = %+v, want %+v", got, want)
			}
			if other, err := s.Load(testKey + "x"); other != nil || err != nil {
				t.Errorf("Load of another key = %v, %v, want nil, nil", other, err)
			}

			for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(testKey): 0o600} {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("mode of %s = %04o, want %04o", path, got, want)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != filepath.Base(s.Path(testKey)) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory holds %q, want only the token file (no temporary file left)", names)
			}
			if strings.Contains(s.Path(testKey), "pop.example.com") {
				t.Errorf("file name %s shows the account key", s.Path(testKey))
			}
		})
	}
}

func TestStore_RefusesReadableFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		s := NewStore(t.TempDir())
		if err := s.Save(testKey, &oauth2.Token{RefreshToken: "RT-secret"}); err != nil {
			t.Fatal(err)
		}
		os.Chmod(s.Path(testKey), mode)
		tok, err := s.Load(testKey)
		if err == nil || tok != nil {
			t.Fatalf("mode %04o: Load = %v, %v, want a refusal", mode, tok, err)
		}
		if !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "RT-secret") {
			t.Errorf("mode %04o: error %q, want one saying chmod 600 and not quoting the token", mode, err)
		}
	}
}

func TestStore_CorruptFileNeedsAuth(t *testing.T) {
	s := NewStore(t.TempDir())
	os.WriteFile(s.Path(testKey), []byte(`{"refresh_token": "RT-secret`), 0o600)
	_, err := s.Load(testKey)
	if err == nil || !strings.Contains(err.Error(), "fetchd auth") || strings.Contains(err.Error(), "RT-secret") {
		t.Errorf("Load of a torn file: %v, want an error telling to run fetchd auth, without the token", err)
	}
}
