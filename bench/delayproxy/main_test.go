package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// startProxy serves one proxy in front of upstream and returns its address.
func startProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c.(*net.TCPConn), upstream, delay)
		}
	}()
	return ln.Addr().String()
}

// startEcho is an upstream that echoes everything and closes after EOF.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestProxy_RoundTripIsTwiceTheDelay(t *testing.T) {
	const delay = 25 * time.Millisecond
	c, err := net.Dial("tcp", startProxy(t, startEcho(t), delay))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	for i := range 3 {
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < 2*delay || rtt > 2*delay+150*time.Millisecond {
			t.Errorf("round trip %d took %v, want about %v", i, rtt, 2*delay)
		}
	}
}

func TestProxy_BandwidthNotLimitedAndHalfClosePassed(t *testing.T) {
	const delay = 20 * time.Millisecond
	c, err := net.Dial("tcp", startProxy(t, startEcho(t), delay))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB: hundreds of chunks
	start := time.Now()
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c) // ends only when the half-close came back as EOF
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, want the %d sent", len(got), len(data))
	}
	// A proxy that waited the delay per chunk would take (8 MiB / 64 KiB) × 40 ms ≈ 5 s.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("8 MiB took %v through the proxy: the delay limits the bandwidth", d)
	}
}
