// Command verify checks one benchmark run: every message of the corpus
// (bench/corpus gen) was delivered exactly once into the client's maildir, and
// the server's mailboxes are as they must be afterwards.
//
//	verify -cache DIR -got MAILDIR -mode delete|keep [-exact] SERVER_MAILDIR...
//
// A delivered message is recognised by its "X-Bench-Id: N" header field, looked
// for at the start of a line in its first 256 KB (clients put their own header
// fields before it). With -exact the delivered file must be the corpus message
// byte for byte (testcorpus.Expected: a final newline added when it had none),
// after the trace header fields a retriever prepends (Return-Path, Delivered-To,
// Received, with their continuation lines) are stripped: what fetchd promises.
//
// In delete mode the server maildirs must hold no message any more; in keep
// mode they must hold exactly the corpus files, untouched: the same inodes the
// cache holds (the seeding hard-linked them), so not one was rewritten.
//
// It prints one line, "ok: ..." or "FAILED: ...", and exits 1 on failure.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"fetchd/bench/internal/manifest"
)

func main() {
	cache := flag.String("cache", "", "corpus cache directory")
	got := flag.String("got", "", "the client's maildir")
	mode := flag.String("mode", "delete", "delete or keep: what the server mailboxes must hold afterwards")
	exact := flag.Bool("exact", false, "compare delivered bytes with the corpus after stripping trace fields")
	flag.Parse()
	if *cache == "" || *got == "" || (*mode != "delete" && *mode != "keep") {
		fmt.Fprintln(os.Stderr, "usage: verify -cache DIR -got MAILDIR -mode delete|keep [-exact] SERVER_MAILDIR...")
		os.Exit(2)
	}
	problems, summary, err := check(*cache, *got, *mode, *exact, flag.Args())
	if err != nil {
		fmt.Println("FAILED:", err)
		os.Exit(1)
	}
	if len(problems) > 0 {
		fmt.Printf("FAILED: %s; %s\n", summary, strings.Join(problems, "; "))
		os.Exit(1)
	}
	fmt.Println("ok:", summary)
}

func check(cache, got, mode string, exact bool, servers []string) (problems []string, summary string, err error) {
	es, err := manifest.Read(cache)
	if err != nil {
		return nil, "", err
	}
	byID := make(map[int]manifest.Entry, len(es))
	for _, e := range es {
		byID[e.ID] = e
	}
	files, err := maildirFiles(got)
	if err != nil {
		return nil, "", err
	}
	count := make(map[int]int, len(es))
	var noID, unknown, mismatched []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		id, at, ok := benchID(data)
		if !ok {
			noID = append(noID, filepath.Base(f))
			continue
		}
		e, known := byID[id]
		if !known {
			unknown = append(unknown, strconv.Itoa(id))
			continue
		}
		count[id]++
		if exact && count[id] == 1 {
			if why := compare(cache, e, data, at); why != "" {
				mismatched = append(mismatched, fmt.Sprintf("%d (%s)", id, why))
			}
		}
	}
	var missing, dup []string
	for _, e := range es {
		switch c := count[e.ID]; {
		case c == 0:
			missing = append(missing, strconv.Itoa(e.ID))
		case c > 1:
			dup = append(dup, fmt.Sprintf("%d×%d", e.ID, c))
		}
	}
	add := func(what string, list []string) {
		if len(list) > 0 {
			problems = append(problems, fmt.Sprintf("%d %s: %s", len(list), what, abbrev(list)))
		}
	}
	add("missing", missing)
	add("delivered more than once", dup)
	add("without X-Bench-Id", noID)
	add("with an unknown X-Bench-Id", unknown)
	add("not byte-identical", mismatched)

	// The server side.
	var left []string
	for _, s := range servers {
		fs, err := maildirFiles(s)
		if err != nil {
			return nil, "", err
		}
		left = append(left, fs...)
	}
	switch mode {
	case "delete":
		if len(left) > 0 {
			problems = append(problems, fmt.Sprintf("%d messages left on the server in delete mode", len(left)))
		}
	case "keep":
		want := make(map[uint64]bool, len(es))
		for _, e := range es {
			ino, err := inode(manifest.Path(cache, e))
			if err != nil {
				return nil, "", err
			}
			want[ino] = true
		}
		var foreign int
		seen := make(map[uint64]bool, len(left))
		for _, f := range left {
			ino, err := inode(f)
			if err != nil {
				return nil, "", err
			}
			if !want[ino] {
				foreign++
			}
			seen[ino] = true
		}
		gone := 0
		for ino := range want {
			if !seen[ino] {
				gone++
			}
		}
		if foreign > 0 || gone > 0 {
			problems = append(problems, fmt.Sprintf("keep mode: server mailboxes changed (%d corpus files gone, %d other files)", gone, foreign))
		}
	}
	summary = fmt.Sprintf("%d/%d delivered once, %d files in %s, server %s", len(es)-len(missing)-len(dup), len(es), len(files), got, mode+" ok")
	if len(problems) > 0 {
		summary = fmt.Sprintf("%d/%d delivered once, %d files in %s", len(es)-len(missing)-len(dup), len(es), len(files), got)
	}
	if exact {
		summary += ", bytes exact"
	}
	return problems, summary, nil
}

// maildirFiles lists the messages in dir/new and dir/cur.
func maildirFiles(dir string) ([]string, error) {
	var out []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				out = append(out, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	return out, nil
}

var field = []byte("X-Bench-Id:")

// benchID finds the X-Bench-Id field at a line start and returns its value and
// the offset of its line.
func benchID(data []byte) (id, at int, ok bool) {
	head := data[:min(len(data), 256<<10)]
	for off := 0; off < len(head); {
		if bytes.HasPrefix(head[off:], field) {
			v := head[off+len(field):]
			v = bytes.TrimLeft(v, " \t")
			n := 0
			for n < len(v) && v[n] >= '0' && v[n] <= '9' {
				n++
			}
			id, err := strconv.Atoi(string(v[:n]))
			return id, off, err == nil
		}
		nl := bytes.IndexByte(head[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	return 0, 0, false
}

// compare checks data against the corpus message e: only trace fields before
// offset at, then exactly testcorpus.Expected's bytes.
func compare(cache string, e manifest.Entry, data []byte, at int) string {
	for _, line := range strings.SplitAfter(string(data[:at]), "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line
		}
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "return-path", "delivered-to", "received":
		default:
			return fmt.Sprintf("unexpected line before the original header: %.60q", line)
		}
	}
	f, err := os.Open(manifest.Path(cache, e))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	want, err := io.ReadAll(f)
	if err != nil {
		return err.Error()
	}
	if len(want) > 0 && want[len(want)-1] != '\n' {
		want = append(want, '\n') // testcorpus.Expected
	}
	have := data[at:]
	if bytes.Equal(have, want) {
		return ""
	}
	i := 0
	for i < len(have) && i < len(want) && have[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d: %.20q vs %.20q", len(have), len(want), i, have[i:], want[i:])
}

func inode(p string) (uint64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

func abbrev(list []string) string {
	list = slices.Clone(list)
	if len(list) > 8 {
		return strings.Join(list[:8], ", ") + fmt.Sprintf(", … (%d more)", len(list)-8)
	}
	return strings.Join(list, ", ")
}
