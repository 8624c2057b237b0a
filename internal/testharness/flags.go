package testharness

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The campaign flags, registered here so that every campaign test file in a
// package shares them instead of defining them twice:
//
//	go test ./internal/campaign -run TestKillCampaign -campaign.size=full -campaign.report
var (
	// CampaignSize is -campaign.size: ci or full (see Full).
	CampaignSize = flag.String("campaign.size", "ci", "campaign size: ci (minutes on 2 cores) or full (the acceptance figures)")
	// CampaignReport is -campaign.report.
	CampaignReport = flag.Bool("campaign.report", false, "write the campaign's figures into docs/RELIABILITY.md")
)

// Full reports whether -campaign.size=full; any value but ci and full fails the test.
func Full(tb testing.TB) bool {
	tb.Helper()
	switch *CampaignSize {
	case "ci":
		return false
	case "full":
		return true
	}
	tb.Fatalf("-campaign.size=%q: want ci or full", *CampaignSize)
	return false
}

// Size is the -campaign.size value, for reports.
func Size() string { return *CampaignSize }

// Report reports whether -campaign.report is set.
func Report() bool { return *CampaignReport }

// ReportPath is docs/RELIABILITY.md in the module's root (the directory
// above the working directory that holds go.mod).
func ReportPath(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "RELIABILITY.md")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
