// Command delayproxy is a TCP proxy that adds latency without limiting
// bandwidth: every chunk read from one side is stamped on arrival and written
// to the other side at arrival+delay, in order. With -delay 10ms a client sees
// a 20 ms round trip to the upstream server. This kernel has no netem, so the
// benchmark's "RTT 20 ms" rows go through it (bench/run.sh).
//
//	delayproxy -listen 127.0.0.1:12111 -upstream 127.0.0.1:12110 -delay 10ms
//
// Each accepted connection gets its own upstream connection; a half-close (EOF
// from one side) is passed on, after the delay, as a half-close to the other,
// and the pair is closed when both directions have ended or one fails.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "address to forward to")
	delay := flag.Duration("delay", 10*time.Millisecond, "delay added in each direction")
	flag.Parse()
	if *upstream == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: delayproxy -listen ADDR -upstream ADDR -delay DURATION")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("delayproxy: %v", err)
	}
	log.Printf("delayproxy: %s -> %s, %v each way", ln.Addr(), *upstream, *delay)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Printf("delayproxy: accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c.(*net.TCPConn), *upstream, *delay)
	}
}

func serve(down *net.TCPConn, upstream string, delay time.Duration) {
	defer down.Close()
	uc, err := net.DialTimeout("tcp", upstream, 10*time.Second)
	if err != nil {
		log.Printf("delayproxy: dial %s: %v", upstream, err)
		return
	}
	up := uc.(*net.TCPConn)
	defer up.Close()
	down.SetNoDelay(true)
	up.SetNoDelay(true)
	var wg sync.WaitGroup
	fail := make(chan struct{})
	var once sync.Once
	abort := func() { once.Do(func() { close(fail) }) }
	wg.Add(2)
	go func() { defer wg.Done(); pipe(up, down, delay, fail, abort) }()
	go func() { defer wg.Done(); pipe(down, up, delay, fail, abort) }()
	go func() {
		<-fail
		// One direction failed: unblock the other's reads and writes.
		down.Close()
		up.Close()
	}()
	wg.Wait()
	abort()
}

// chunk is data read at t; data == nil marks the end of the stream.
type chunk struct {
	t    time.Time
	data []byte
	err  error
}

// pipe copies src to dst, each chunk written delay after it was read. Reads go
// on while earlier chunks wait, so the delay does not cap the bandwidth.
func pipe(dst, src *net.TCPConn, delay time.Duration, fail <-chan struct{}, abort func()) {
	q := make(chan chunk, 4096)
	go func() {
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{t: time.Now(), data: buf[:n]}:
				case <-fail:
					return
				}
			}
			if err != nil {
				select {
				case q <- chunk{t: time.Now(), err: err}:
				case <-fail:
				}
				return
			}
		}
	}()
	for {
		var c chunk
		select {
		case c = <-q:
		case <-fail:
			return
		}
		if d := time.Until(c.t.Add(delay)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-fail:
				t.Stop()
				return
			}
		}
		if c.data == nil {
			if !errors.Is(c.err, io.EOF) {
				abort() // a reset or another error: end both directions
				return
			}
			dst.CloseWrite() // pass the half-close on
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			abort()
			return
		}
	}
}
