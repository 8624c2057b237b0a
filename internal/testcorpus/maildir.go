package testcorpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// seq makes file names unique across calls within one process.
var seq atomic.Uint64

// WriteMaildir creates dir/{cur,new,tmp} and delivers ms into dir/new, each
// written to tmp/ first and renamed, with a unique maildir file name. When
// uid >= 0, the files and every directory WriteMaildir creates (dir's missing
// parents included) are chowned to uid:gid, so a server that runs as that user,
// such as Dovecot's mail processes, can read, move and delete them.
//
// Files are not fsynced: this seeds test mailboxes, it does not deliver mail.
func WriteMaildir(dir string, ms []Message, uid, gid int) error {
	created, err := mkdirAll(dir)
	if err != nil {
		return err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		p := filepath.Join(dir, sub)
		if err := os.Mkdir(p, 0o700); err == nil {
			created = append(created, p)
		} else if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	if uid >= 0 {
		for _, p := range created {
			if err := os.Chown(p, uid, gid); err != nil {
				return fmt.Errorf("maildir: %w", err)
			}
		}
	}

	host, _ := os.Hostname()
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	if host == "" {
		host = "localhost"
	}
	now := time.Now().Unix()
	pid := os.Getpid()
	for _, m := range ms {
		// Maildir names: time.unique.host; ':' and '/' cannot appear in any part.
		name := fmt.Sprintf("%d.P%dQ%d.%s", now, pid, seq.Add(1), host)
		if err := writeOne(dir, name, m.Data, uid, gid); err != nil {
			return fmt.Errorf("maildir: message %s: %w", m.Name, err)
		}
	}
	return nil
}

func writeOne(dir, name string, data []byte, uid, gid int) error {
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if uid >= 0 {
		if err := os.Chown(tmp, uid, gid); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// mkdirAll is os.MkdirAll that returns the directories it created, outermost first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return created, fmt.Errorf("maildir: %w", err)
		}
		created = append(created, missing[i])
	}
	return created, nil
}
