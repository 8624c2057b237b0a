// Command seed writes internal/testcorpus messages into a maildir, for
// scripts/demo.sh and for benchmarks against a private Dovecot:
//
//	go run ./scripts/seed -dir /tmp/dc/home/demo/Maildir -n 50 -tricky -uid 999 -gid 995
package main

import (
	"flag"
	"fmt"
	"os"

	"fetchd/internal/testcorpus"
)

func main() {
	dir := flag.String("dir", "", "maildir to write into (created with cur/, new/, tmp/)")
	n := flag.Int("n", 50, "number of testcorpus.Mixed messages")
	seed := flag.Uint64("seed", 1, "seed for testcorpus.Mixed")
	tricky := flag.Bool("tricky", false, "add the testcorpus.Tricky messages")
	big := flag.Int("big", 0, "add one testcorpus.Big message of this many bytes")
	uid := flag.Int("uid", -1, "chown files and created directories to this uid (-1: leave)")
	gid := flag.Int("gid", -1, "group for -uid")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: seed -dir MAILDIR [-n N] [-seed S] [-tricky] [-big BYTES] [-uid U -gid G]")
		os.Exit(2)
	}
	ms := testcorpus.Mixed(*n, *seed)
	if *tricky {
		ms = append(ms, testcorpus.Tricky()...)
	}
	if *big > 0 {
		ms = append(ms, testcorpus.Big(*big))
	}
	if err := testcorpus.WriteMaildir(*dir, ms, *uid, *gid); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	var total int
	for _, m := range ms {
		total += len(m.Data)
	}
	fmt.Printf("seeded %d messages (%.1f MB) into %s\n", len(ms), float64(total)/1e6, *dir)
}
