package campaign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpdateSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "R.md")
	if err := UpdateSection(path, "kill", "kills: 10\n"); err != nil {
		t.Fatal(err)
	}
	if err := UpdateSection(path, "net", "cuts: 5\n"); err != nil {
		t.Fatal(err)
	}
	if err := UpdateSection(path, "kill", "kills: 20\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if strings.Contains(s, "kills: 10") || !strings.Contains(s, "kills: 20") || !strings.Contains(s, "cuts: 5") {
		t.Errorf("report:\n%s", s)
	}
	if strings.Index(s, "kills: 20") > strings.Index(s, "cuts: 5") {
		t.Errorf("section moved:\n%s", s)
	}
}
