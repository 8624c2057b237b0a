//go:build !linux

package main

import (
	"errors"
	"os"
)

// Elsewhere than Linux, add treats standard input as no terminal: it asks
// nothing and takes the password from --password-file or --password-stdin.
func termIsTTY(*os.File) bool { return false }

func termEchoOff(*os.File) (func(), error) {
	return nil, errors.New("not supported on this system")
}
