package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// WriteSecretFile creates path holding secret and a newline, for a
// password_file (or client_secret_file) setting: mode 0600 from the start
// and whatever the umask, fsynced, never replacing a file or following a
// symlink already there (O_EXCL). On failure nothing is left at path. The
// caller fsyncs the directory. Errors never show the secret.
func WriteSecretFile(path, secret string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: it may hold a secret you still use; move it away first: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("create secret file: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	return nil
}
