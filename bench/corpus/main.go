// Command corpus writes the benchmark's deterministic corpora (internal/testcorpus)
// into a cache directory once, and seeds Dovecot mailboxes from it by hard links,
// so that every measured run starts from the same bytes at almost no cost.
//
//	corpus gen -out DIR -kind mix|small -n N [-seed S] [-size BYTES] [-tricky] [-big B1,B2] [-uid U -gid G]
//	corpus seed -cache DIR [-uid U -gid G] MAILDIR...
//
// gen writes DIR/msgs/NAME, one maildir file per message in LF form, each
// starting with an "X-Bench-Id: N" header field (N from 1, unique in the
// corpus), and DIR/manifest with one "N<TAB>NAME<TAB>SIZE" line per message.
// The files belong to -uid/-gid (Dovecot's mail user), which may then move and
// delete the links in its mailboxes; the cache keeps the inode.
//
// seed empties each MAILDIR (removing Dovecot's index files and UID lists too)
// and hard-links the cached messages into MAILDIR/new: with one MAILDIR all of
// them, with k, the first 1/k to the first, the next 1/k to the second and so on.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"fetchd/bench/internal/manifest"
	"fetchd/internal/testcorpus"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "seed":
		err = seed(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: corpus gen -out DIR -kind mix|small -n N [-seed S] [-size BYTES] [-tricky] [-big B1,B2] [-uid U -gid G]\n       corpus seed -cache DIR [-uid U -gid G] MAILDIR...")
	os.Exit(2)
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fs.String("out", "", "cache directory to create (must not exist)")
	kind := fs.String("kind", "mix", "mix (testcorpus.BenchMix) or small (testcorpus.BenchSmall)")
	n := fs.Int("n", 0, "number of generated messages")
	seedV := fs.Uint64("seed", 1, "generator seed")
	size := fs.Int("size", 8<<10, "message size for -kind small")
	tricky := fs.Bool("tricky", false, "add testcorpus.Tricky")
	big := fs.String("big", "", "comma-separated sizes of testcorpus.Big messages to add")
	uid := fs.Int("uid", -1, "owner of the files (-1: leave)")
	gid := fs.Int("gid", -1, "group of the files")
	fs.Parse(args)
	if *out == "" || fs.NArg() > 0 {
		usage()
	}
	var ms []testcorpus.Message
	switch *kind {
	case "mix":
		ms = testcorpus.BenchMix(*n, *seedV)
	case "small":
		ms = testcorpus.BenchSmall(*n, *seedV, *size)
	default:
		return fmt.Errorf("unknown -kind %q", *kind)
	}
	if *tricky {
		ms = append(ms, testcorpus.Tricky()...)
	}
	if *big != "" {
		for _, s := range strings.Split(*big, ",") {
			b, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || b <= 0 {
				return fmt.Errorf("-big: bad size %q", s)
			}
			ms = append(ms, testcorpus.Big(b))
		}
	}
	msgs := filepath.Join(*out, "msgs")
	if err := os.MkdirAll(msgs, 0o755); err != nil {
		return err
	}
	var es []manifest.Entry
	var total int
	for i, m := range ms {
		id := i + 1
		m = testcorpus.WithField(m, "X-Bench-Id", strconv.Itoa(id))
		p := filepath.Join(msgs, manifest.FileName(id))
		if err := os.WriteFile(p, m.Data, 0o600); err != nil {
			return err
		}
		if *uid >= 0 {
			if err := os.Chown(p, *uid, *gid); err != nil {
				return err
			}
		}
		es = append(es, manifest.Entry{ID: id, Name: manifest.FileName(id), Size: int64(len(m.Data))})
		total += len(m.Data)
	}
	mf, err := os.Create(filepath.Join(*out, "manifest"))
	if err != nil {
		return err
	}
	if err := manifest.Write(mf, es); err != nil {
		mf.Close()
		return err
	}
	if err := mf.Close(); err != nil {
		return err
	}
	fmt.Printf("corpus: %s: %d messages, %.1f MB\n", *out, len(ms), float64(total)/1e6)
	return nil
}

func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	cache := fs.String("cache", "", "cache directory written by gen")
	uid := fs.Int("uid", -1, "owner of the maildirs (-1: leave)")
	gid := fs.Int("gid", -1, "group of the maildirs")
	fs.Parse(args)
	dirs := fs.Args()
	if *cache == "" || len(dirs) == 0 {
		usage()
	}
	es, err := manifest.Read(*cache)
	if err != nil {
		return err
	}
	if len(es)%len(dirs) != 0 {
		return fmt.Errorf("%d messages do not split evenly into %d maildirs", len(es), len(dirs))
	}
	per := len(es) / len(dirs)
	for k, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		home := filepath.Dir(dir)
		for _, d := range []string{home, dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
			if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			if *uid >= 0 {
				if err := os.Chown(d, *uid, *gid); err != nil {
					return err
				}
			}
		}
		for _, e := range es[k*per : (k+1)*per] {
			if err := os.Link(manifest.Path(*cache, e), filepath.Join(dir, "new", e.Name)); err != nil {
				return err
			}
		}
	}
	return nil
}
