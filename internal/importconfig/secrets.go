package importconfig

import (
	"errors"
	"fetchd/internal/config"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// secret is one inline password and the file it goes into.
type secret struct {
	path  string
	value string
}

func secretPath(dir, account, kind string) string {
	return filepath.Join(dir, account+"."+kind)
}

func smtpSecretKind(i int) string {
	if i == 0 {
		return "smtp-password"
	}
	return "smtp-password-" + strconv.Itoa(i+1)
}

// secrets lists the inline passwords of the accounts that are imported:
// no copy of a password is made for an account that is not.
func (r *Result) secrets(dir string) []secret {
	var out []secret
	for _, a := range r.Accounts {
		if a.Disabled != "" {
			continue
		}
		if a.Password != "" {
			out = append(out, secret{secretPath(dir, a.Name, "password"), a.Password})
		}
		for i, d := range a.Deliver {
			if d.SMTPPassword != "" {
				out = append(out, secret{secretPath(dir, a.Name, smtpSecretKind(i)), d.SMTPPassword})
			}
		}
	}
	return out
}

// WriteSecrets writes each inline password into its own file under dir,
// mode 0600, creating dir (mode 0700) if needed, and returns the files
// written. Without force it refuses, before writing anything, when one of
// the files exists: it may hold a password the user still needs. With
// force an existing file is replaced whole (written beside it, then
// renamed), so its old mode and any symlink there do not carry over.
func (r *Result) WriteSecrets(dir string, force bool) ([]string, error) {
	list := r.secrets(dir)
	if len(list) == 0 {
		return nil, nil
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("secrets directory %q: must be an absolute path", dir)
	}
	if !force {
		for _, s := range list {
			if _, err := os.Lstat(s.path); err == nil {
				return nil, fmt.Errorf("%s exists: it may hold a password you still use; move it away, or run again with --force to replace it", s.path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("password file %s: %w", s.path, err)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	var written []string
	for _, s := range list {
		write := writeNew
		if force {
			write = replace
		}
		if err := write(s.path, s.value); err != nil {
			if !force {
				// All or nothing: a second run then starts clean.
				for _, p := range written {
					os.Remove(p)
				}
			}
			return nil, err
		}
		written = append(written, s.path)
	}
	if err := syncDir(dir); err != nil {
		return written, err
	}
	return written, nil
}

// writeNew creates path with O_EXCL, which also refuses a symlink there.
func writeNew(path, secret string) error {
	if err := config.WriteSecretFile(path, secret); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: move it away, or run again with --force to replace it", path)
		}
		return fmt.Errorf("password file: %w", err)
	}
	return nil
}

// replace writes a new file beside path and renames it over path.
func replace(path, secret string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".import-*")
	if err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	if err := finishFile(f, []byte(secret+"\n")); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("password file: %w", err)
	}
	return nil
}

// finishFile writes data, makes sure the mode is 0600 whatever the umask,
// and syncs before closing.
func finishFile(f *os.File, data []byte) error {
	_, err := f.Write(data)
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
		os.Remove(f.Name())
		return fmt.Errorf("password file %s: %w", f.Name(), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("secrets directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("secrets directory: %w", err)
	}
	return nil
}
