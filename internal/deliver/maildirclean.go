package deliver

import (
	"errors"
	"os"
	"path/filepath"
	"time"
)

// TmpMaxAge is how old a file in a maildir's tmp/ must be before CleanTmp
// removes it: the maildir specification's 36 hours, long past any delivery
// still in progress.
const TmpMaxAge = 36 * time.Hour

// CleanTmp removes files in tmp/ last modified before now-maxAge: the
// leftovers of deliveries interrupted by a crash. Only regular files are
// touched. It returns how many were removed.
func (m *Maildir) CleanTmp(now time.Time, maxAge time.Duration) (int, error) {
	dir := filepath.Join(m.Path, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, Temporary(m.String(), "clean tmp/", err)
	}
	var n int
	var errs []error
	for _, de := range entries {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil || !fi.ModTime().Before(now.Add(-maxAge)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if len(errs) > 0 {
		return n, Temporary(m.String(), "clean tmp/", errors.Join(errs...))
	}
	return n, nil
}
