// Package oauth keeps an account's OAuth2 tokens (RFC 6749) alive for POP3
// XOAUTH2/OAUTHBEARER logins: a file store for the refresh token, a Source
// that hands out a valid access token and refreshes it before it expires,
// and the two consent flows `fetchd auth` runs — the loopback redirect with
// PKCE (RFC 8252 §7.3, RFC 7636) and the device authorization grant
// (RFC 8628).
//
// Nothing here logs, and no error carries a token or a client secret: errors
// from a token endpoint carry only its OAuth error code and description.
package oauth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"
)

// Store keeps refresh (and current access) tokens, one file per account
// under a directory of mode 0700, each file 0600 and written atomically
// (temporary file, fsync, rename, fsync of the directory). A file is named
// by a hash of the account key, so the key's characters never reach the
// file system.
type Store struct {
	dir string
}

// NewStore returns a store in dir; the directory is created on the first
// Save.
func NewStore(dir string) *Store { return &Store{dir: dir} }

// tokenFile is the on-disk form: our own struct, so that a change in
// oauth2.Token's JSON cannot silently change the file format.
type tokenFile struct {
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	ExpiresIn    int64     `json:"expires_in,omitempty"` // lifetime when issued, seconds
}

// Path is the file holding key's tokens.
func (s *Store) Path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:16])+".json")
}

// Load returns key's stored token, or (nil, nil) when there is none. It
// refuses a file that group or others may read: a refresh token is as good
// as the password.
func (s *Store) Load(key string) (*oauth2.Token, error) {
	path := s.Path(key)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("token file %s has mode %04o, readable by others than its owner: run chmod 600 on it (and revoke the token if others may have read it)", path, perm)
	}
	var tf tokenFile
	if err := json.NewDecoder(f).Decode(&tf); err != nil {
		// The decoder's message quotes no file content beyond an offset.
		return nil, fmt.Errorf("token file %s: not a token file (%v): run `fetchd auth` for the account again", path, err)
	}
	return &oauth2.Token{
		AccessToken:  tf.AccessToken,
		TokenType:    tf.TokenType,
		RefreshToken: tf.RefreshToken,
		Expiry:       tf.Expiry,
		ExpiresIn:    tf.ExpiresIn,
	}, nil
}

// Save stores t as key's token, replacing any earlier one atomically: a
// crash leaves either the old file or the new one, never a torn one.
func (s *Store) Save(key string, t *oauth2.Token) error {
	if t == nil {
		return errors.New("save token: no token")
	}
	data, err := json.Marshal(tokenFile{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
		ExpiresIn:    t.ExpiresIn,
	})
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	// MkdirAll keeps the mode of a directory that already exists; ours
	// holds secrets, so tighten it.
	if fi, err := os.Stat(s.dir); err == nil && fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(s.dir, 0o700); err != nil {
			return fmt.Errorf("save token: %w", err)
		}
	}
	path := s.Path(key)
	tmp, err := os.CreateTemp(s.dir, ".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save token: fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	ok = true
	// The rename is durable only once the directory is.
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("save token: fsync %s: %w", s.dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
