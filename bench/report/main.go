// Command report turns bench/run.sh's raw numbers into docs/BENCHMARKS.md:
// per row a table of medians, fetchd's ratios to each peer, and issue 7's
// acceptance criteria checked against them.
//
//	report -raw RAW.tsv -rows ROWS.tsv -facts FACTS.md [-daemon FRAGMENT.md] -cmd "bench/run.sh ..." [-quick]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// sample is one measured run.
type sample struct {
	wall, cpu float64 // seconds
	rssKB     float64
	ok        bool
	verdict   string
}

// result is one client in one row.
type result struct {
	client  string
	samples []sample
}

func (r *result) median(f func(sample) float64) float64 {
	v := make([]float64, 0, len(r.samples))
	for _, s := range r.samples {
		v = append(v, f(s))
	}
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func (r *result) wall() float64 { return r.median(func(s sample) float64 { return s.wall }) }
func (r *result) cpu() float64  { return r.median(func(s sample) float64 { return s.cpu }) }
func (r *result) rss() float64  { return r.median(func(s sample) float64 { return s.rssKB }) / 1024 }

func (r *result) okCount() int {
	n := 0
	for _, s := range r.samples {
		if s.ok {
			n++
		}
	}
	return n
}

func main() {
	rawPath := flag.String("raw", "", "raw TSV written by bench/run.sh")
	rowsPath := flag.String("rows", "", "row number<TAB>title lines")
	factsPath := flag.String("facts", "", "markdown list of machine facts")
	daemonPath := flag.String("daemon", "", "markdown fragment of bench/daemon1000.sh (row 9), optional")
	cmd := flag.String("cmd", "bench/run.sh", "the command that produced the numbers")
	quick := flag.Bool("quick", false, "smoke size: say that the numbers mean nothing")
	flag.Parse()
	if err := run(os.Stdout, *rawPath, *rowsPath, *factsPath, *daemonPath, *cmd, *quick); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func readTSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, strings.Split(sc.Text(), "\t"))
		}
	}
	return out, sc.Err()
}

func run(w io.Writer, rawPath, rowsPath, factsPath, daemonPath, cmd string, quick bool) error {
	raw, err := readTSV(rawPath)
	if err != nil {
		return err
	}
	rows, err := readTSV(rowsPath)
	if err != nil {
		return err
	}
	facts, err := os.ReadFile(factsPath)
	if err != nil {
		return err
	}
	// results[row] in the order clients first appear.
	results := map[string][]*result{}
	for i, f := range raw {
		if i == 0 || len(f) < 9 {
			continue // header
		}
		row, client := f[0], f[1]
		num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		s := sample{wall: num(f[3]), cpu: num(f[4]) + num(f[5]), rssKB: num(f[6]), verdict: f[8]}
		s.ok = strings.HasPrefix(f[8], "ok")
		var r *result
		for _, x := range results[row] {
			if x.client == client {
				r = x
			}
		}
		if r == nil {
			r = &result{client: client}
			results[row] = append(results[row], r)
		}
		r.samples = append(r.samples, s)
	}

	fmt.Fprintln(w, "# Benchmarks: fetchd against mpop, fdm, fetchmail and getmail6")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Written by `bench/run.sh` (issue 7); do not edit by hand, run it again.")
	if quick {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "**Smoke size (`--quick`)**: tiny corpora and one run, to check that every client delivers every message once. The times below say nothing about speed.")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Reproduce")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "As root on Debian 12, from the repository (missing peers are installed with apt-get):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "```sh")
	fmt.Fprintln(w, "bench/run.sh            # every row, 3 runs each: this file and docs/benchmarks-raw.tsv")
	fmt.Fprintln(w, "bench/run.sh --quick    # the CI smoke size: correctness only, report under /tmp/fetchd-bench-quick")
	fmt.Fprintln(w, "bench/daemon1000.sh     # row 9 alone")
	fmt.Fprintln(w, "```")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "These numbers: `%s`. The raw numbers of every run (wall, user, sys, peak RSS, exit status, verification) are in `benchmarks-raw.tsv` beside this file.\n", cmd)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Setup")
	fmt.Fprintln(w)
	w.Write(facts)
	io.WriteString(w, `- Server: a private Dovecot (scripts/dovecot.sh) on loopback. Each mailbox is seeded before every run by hard-linking a cached, deterministic corpus (internal/testcorpus: BenchMix is 80 % 2–20 KB, 12 % 20–100 KB, 8 % 100 KB–2 MB; BenchSmall about 8 KB each; Tricky adds dot lines, bare CR, NUL, 20 KB lines, 8-bit, no final newline…) into Maildir/new; every message carries a unique X-Bench-Id header.
- RTT 20 ms: through bench/delayproxy, which delays every chunk by 10 ms in each direction without limiting bandwidth (this kernel has no netem).
- Clients: each runs as the unprivileged user fetchd-bench with its own HOME and state (wiped before every run, except between the two polls of row 4), and delivers into its own maildir: fetchd (maildir target, trace headers on), mpop (delivery maildir), fdm (maildir action), fetchmail (uidl, MDA procmail -m into a maildir), getmail6 (Maildir destination). Plain POP3 (USER/PASS) on the plain rows, implicit TLS on row 8. Default settings otherwise: no client is tuned.
- Measured with GNU time (`+"`/usr/bin/time -f '%e %U %S %M'`"+`): wall, user+sys CPU of the client and its children (procmail for fetchmail), and peak RSS (the largest single process of the tree). Medians of the runs; the page cache is warm, `+"`sync`"+` runs before every measured run.
- Verification after every run (bench/verify): each X-Bench-Id exactly once in the client's maildir (new/ and cur/), none missing, none extra; in delete mode the server mailboxes are empty, in keep mode they hold the very same files (inodes) as before. For fetchd also byte for byte: each delivered file equals the corpus message (testcorpus.Expected) after the trace fields it prepends (Return-Path, Delivered-To, Received). A failed check marks the row FAILED and bench/run.sh exits 1.
`)
	fmt.Fprintln(w)

	out := w
	var body bytes.Buffer
	w = &body
	var summary []string
	for _, r := range rows {
		if len(r) < 2 {
			continue
		}
		row, title := r[0], r[1]
		fmt.Fprintf(w, "## Row %s: %s\n\n", row, title)
		rs := results[row]
		if len(rs) == 0 {
			fmt.Fprint(w, "No runs.\n\n")
			continue
		}
		fmt.Fprintln(w, "| client | wall median | CPU median (user+sys) | peak RSS | delivered ok |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|")
		for _, x := range rs {
			ok := fmt.Sprintf("%d/%d runs", x.okCount(), len(x.samples))
			if x.okCount() < len(x.samples) {
				why := ""
				for _, s := range x.samples {
					if !s.ok {
						why = s.verdict
						break
					}
				}
				ok = fmt.Sprintf("**FAILED** (%d/%d runs ok): %s", x.okCount(), len(x.samples), strings.TrimPrefix(oneLine(why, 300), "FAILED: "))
			}
			fmt.Fprintf(w, "| %s | %.2f s | %.2f s | %.1f MiB | %s |\n", x.client, x.wall(), x.cpu(), x.rss(), ok)
		}
		fmt.Fprintln(w)
		var fd *result
		for _, x := range rs {
			if x.client == "fetchd" {
				fd = x
			}
		}
		if fd != nil {
			var parts []string
			for _, x := range rs {
				if x.client == "fetchd" || x.client == "fetchd-nobig" {
					continue
				}
				parts = append(parts, fmt.Sprintf("%s wall %s, CPU %s", x.client, ratio(fd.wall(), x.wall()), ratio(fd.cpu(), x.cpu())))
			}
			if len(parts) > 0 {
				fmt.Fprintf(w, "fetchd/peer: %s.\n\n", strings.Join(parts, "; "))
			}
		}
		if a := acceptance(row, rs); a != "" {
			fmt.Fprintf(w, "Acceptance (issue 7): %s\n\n", a)
			if row != "8" {
				summary = append(summary, fmt.Sprintf("- Row %s: %s", row, a))
			}
		}
		for _, x := range rs {
			if x.okCount() < len(x.samples) {
				summary = append(summary, fmt.Sprintf("- Row %s: **%s FAILED verification** (%d/%d runs ok).", row, x.client, x.okCount(), len(x.samples)))
			}
		}
	}
	w = out
	var daemon []byte
	if daemonPath != "" {
		frag, err := os.ReadFile(daemonPath)
		switch {
		case err != nil:
			daemon = fmt.Appendf(nil, "## Row 9: 1,000 accounts under `fetchd run`\n\nNo result: %v\n\n", err)
			summary = append(summary, "- Row 9: no result.")
		case bytes.Contains(frag, []byte("NOT on time")) || bytes.Contains(frag, []byte("FAILED")):
			daemon = append(frag, '\n')
			summary = append(summary, "- Row 9: every account polled on time under `fetchd run` — **not met** (see row 9).")
		default:
			daemon = append(frag, '\n')
			summary = append(summary, "- Row 9: every account polled on time under `fetchd run` — met (see row 9 for its RSS).")
		}
	}
	if len(summary) > 0 {
		fmt.Fprintln(w, "## Summary: issue 7's acceptance criteria")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "From the medians below; each row's section has the numbers.")
		fmt.Fprintln(w)
		for _, l := range summary {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
	}
	w.Write(body.Bytes())
	w.Write(daemon)
	return nil
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "/")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func find(rs []*result, client string) *result {
	for _, x := range rs {
		if x.client == client {
			return x
		}
	}
	return nil
}

// check formats one criterion: "what: value — met" or "— NOT met".
func check(what string, value float64, unit string, limit float64) string {
	verdict := "met"
	if value > limit {
		verdict = "**not met**"
	}
	return fmt.Sprintf("%s: %.2f%s — %s", what, value, unit, verdict)
}

// acceptance states issue 7's criteria for a row and whether fetchd meets them.
func acceptance(row string, rs []*result) string {
	fd, mpop := find(rs, "fetchd"), find(rs, "mpop")
	if fd == nil {
		return ""
	}
	var parts []string
	switch row {
	case "1", "2", "3":
		if mpop == nil {
			return "fetchd wall ≤ 0.9× mpop's and CPU ≤ mpop's (mpop not measured)."
		}
		parts = append(parts,
			check("fetchd wall ≤ 0.9× mpop's", fd.wall()/mpop.wall(), "×", 0.9),
			check("CPU ≤ mpop's", fd.cpu()/mpop.cpu(), "×", 1.0))
	case "4":
		var best *result
		for _, x := range rs {
			if x.client != "fetchd" && (best == nil || x.wall() < best.wall()) {
				best = x
			}
		}
		if best == nil {
			return "fetchd wall ≤ 0.8× the fastest peer's (no peer measured)."
		}
		parts = append(parts, check("fetchd wall ≤ 0.8× the fastest peer's ("+best.client+")", fd.wall()/best.wall(), "×", 0.8))
	case "5":
		if mpop == nil {
			return "fetchd wall ≤ 0.5× mpop's (mpop not measured)."
		}
		parts = append(parts, check("keep-mode first poll, fetchd wall ≤ 0.5× mpop's", fd.wall()/mpop.wall(), "×", 0.5))
	case "6":
		parts = append(parts, check("fetchd peak RSS with the big messages ≤ 32 MiB", fd.rss(), " MiB", 32))
		if nb := find(rs, "fetchd-nobig"); nb != nil {
			parts = append(parts, check("within 5 MiB of the mailbox without them", fd.rss()-nb.rss(), " MiB more", 5))
		}
	case "7":
		if mpop != nil {
			parts = append(parts, check("fetchd wall ≤ 0.1× mpop's", fd.wall()/mpop.wall(), "×", 0.1))
		}
		parts = append(parts, check("fetchd peak RSS ≤ 64 MiB", fd.rss(), " MiB", 64))
	case "8":
		return "no criterion of its own; shows what implicit TLS costs each client."
	}
	if fd.okCount() < len(fd.samples) {
		parts = append(parts, "**fetchd failed verification**")
	}
	return strings.Join(parts, "; ") + "."
}
