package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/BurntSushi/toml"

	"fetchd/internal/config"
	"fetchd/internal/deliver"
)

// configHeader starts a configuration file that add creates.
const configHeader = `# fetchd configuration. ` + "`fetchd check`" + ` validates it; the README lists every key.
# ` + "`fetchd add EMAIL`" + ` appends accounts below; edit it freely.
`

// configFile is the configuration add appends to, as read before.
type configFile struct {
	path           string // symlinks resolved: the file to replace
	data           []byte // nil when it does not exist yet
	mode           fs.FileMode
	uid, gid       int // owner, kept when root rewrites the file; -1 unknown
	names          map[string]bool
	defaultDeliver bool // [[defaults.deliver]] serves accounts without targets
}

// readConfigFile reads path, if it exists, for the names in use and whether
// [defaults] has delivery targets. It reads the TOML loosely: the full check
// comes when the new file is loaded.
func readConfigFile(path string) (*configFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	cf := &configFile{path: abs, mode: 0o600, uid: -1, gid: -1, names: map[string]bool{}}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		cf.path = real
	}
	data, err := os.ReadFile(cf.path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	fi, err := os.Stat(cf.path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf.data, cf.mode = data, fi.Mode().Perm()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		cf.uid, cf.gid = int(st.Uid), int(st.Gid)
	}
	var raw struct {
		Defaults struct {
			Deliver []map[string]any `toml:"deliver"`
		} `toml:"defaults"`
		Account []struct {
			Name string `toml:"name"`
		} `toml:"account"`
	}
	if _, err := toml.Decode(string(data), &raw); err != nil {
		if _, lerr := config.Load(cf.path); lerr != nil {
			err = lerr
		}
		return nil, fmt.Errorf("fix the configuration first:\n%v", err)
	}
	// The file as it is must be valid: found at the end, after the login
	// check, a problem of another account would read as the new one's. A
	// file without accounts yet cannot pass Load ("no accounts"): the
	// final check of the whole new file covers it.
	if _, err := config.Load(cf.path); err != nil && len(raw.Account) > 0 {
		return nil, fmt.Errorf("fix the configuration first (nothing was asked or sent yet):\n%v", err)
	}
	for _, a := range raw.Account {
		cf.names[a.Name] = true
	}
	cf.defaultDeliver = len(raw.Defaults.Deliver) > 0
	return cf, nil
}

// write appends entry to the configuration and creates the secret files,
// never leaving the configuration half-written or invalid: the whole new
// file is written to a temp file in the same directory, fsynced, and loaded
// with every rule of `fetchd check`; only then are the secret files
// created and the temp file renamed over the original (or linked into
// place, for a new file, so that one created meanwhile is not replaced),
// and the directory fsynced.
func (cf *configFile) write(entry []byte, files []secretFile) (err error) {
	dir := filepath.Dir(cf.path)
	if cf.data == nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create the config's directory: %w", err)
		}
	}
	var content bytes.Buffer
	if cf.data == nil {
		content.WriteString(configHeader)
	}
	content.Write(cf.data)
	if n := len(cf.data); n > 0 && cf.data[n-1] != '\n' {
		content.WriteByte('\n')
	}
	content.WriteByte('\n')
	content.Write(entry)

	tmp, err := cf.writeTemp(dir, content.Bytes())
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after a rename, removes nothing
	if _, err := config.Load(tmp); err != nil {
		var ce *config.Errors
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				if p.File == tmp {
					p.File = cf.path
				}
			}
		}
		return addUsageErr("the configuration with this account would not be valid, so nothing was written:\n%v", err)
	}
	if err := cf.unchanged(); err != nil {
		return err
	}
	var created []secretFile
	defer func() {
		if err != nil {
			for _, f := range created {
				os.Remove(f.path)
			}
		}
	}()
	for _, f := range files {
		if err := f.create(); err != nil {
			return err
		}
		created = append(created, f)
	}
	if cf.data == nil {
		err = os.Link(tmp, cf.path)
	} else {
		err = os.Rename(tmp, cf.path)
	}
	if err != nil {
		return fmt.Errorf("replace %s: %w", cf.path, err)
	}
	if err := deliver.SyncDirectory(dir); err != nil {
		return fmt.Errorf("the account is written, but syncing %s failed: %w", dir, err)
	}
	return nil
}

// writeTemp writes data to a new file in dir with the original's mode and
// owner, fsynced.
func (cf *configFile) writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+filepath.Base(cf.path)+".add-*")
	if err != nil {
		return "", fmt.Errorf("write the new config: %w", err)
	}
	name := f.Name()
	err = f.Chmod(cf.mode)
	if err == nil && cf.uid >= 0 && os.Geteuid() == 0 {
		err = f.Chown(cf.uid, cf.gid)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write the new config %s: %w", name, err)
	}
	return name, nil
}

// unchanged makes sure nobody edited the configuration while add ran: that
// edit would otherwise be lost in the rename.
func (cf *configFile) unchanged() error {
	now, err := os.ReadFile(cf.path)
	switch {
	case cf.data == nil && errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read config again: %w", err)
	case !bytes.Equal(now, cf.data) || (cf.data == nil && err == nil):
		return addFailed("%s changed while fetchd add ran: nothing written; run it again", cf.path)
	}
	return nil
}
