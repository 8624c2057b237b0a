package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// termIsTTY reports whether f is a terminal: only a terminal has termios.
func termIsTTY(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// termEchoOff turns off f's echo (keeping ICANON, so a line still ends at
// Enter, and ISIG, so Ctrl-C still interrupts) and returns what restores it.
func termEchoOff(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
