package crashpoint

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		value   string
		wantErr bool
		wantNil bool
	}{
		{"", false, true},
		{"store.delivered:3", false, false},
		{"store.delivered", true, true},
		{"store.delivered:0", true, true},
		{":2", true, true},
		{"x:y", true, true},
	}
	for _, tc := range tests {
		t.Setenv(EnvVar, tc.value)
		p, err := FromEnv()
		if (err != nil) != tc.wantErr || (p == nil) != tc.wantNil {
			t.Errorf("%q: got %v, %v", tc.value, p, err)
		}
	}
}

// The N-th hit of the armed point kills the process; others pass.
func TestHitKills(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		plan, _ := FromEnv()
		ctx := With(context.Background(), plan)
		Hit(ctx, "other")
		Hit(ctx, "p")
		os.Stdout.WriteString("survived first\n")
		Hit(ctx, "p")
		os.Stdout.WriteString("survived second\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitKills$")
	cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", EnvVar+"=p:2")
	out, err := cmd.Output()
	if err == nil || string(out) != "survived first\n" {
		t.Fatalf("child printed %q, err %v; want it killed at the second hit", out, err)
	}
}

func TestHitWithoutPlanIsNoop(t *testing.T) {
	Hit(context.Background(), "store.delivered")
}
