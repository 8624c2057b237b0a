//go:build !unix

package config

import "os/exec"

// killGroupOnTimeout does nothing here: exec.CommandContext kills the
// program itself, and WaitDelay stops waiting for what it started.
func killGroupOnTimeout(cmd *exec.Cmd) {}
