package fetch

import (
	"testing"
	"time"

	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// What a poll announces it will fetch leaves out what it will not: messages
// delivered before, held after a permanent failure, over max_message_size
// and beyond the per-poll limits. Then each delivery is reported, and the
// counts end where the announcement said, on every delivery path.
func TestPoll_ProgressCountsOnlyWhatIsFetched(t *testing.T) {
	for _, p := range deliveryPaths {
		t.Run(p.name, func(t *testing.T) {
			msgs := []pop3test.Message{
				sized("seen", 100), sized("held", 200), sized("big", 5000),
				sized("n1", 300), sized("n2", 400), sized("n3", 500), sized("n4", 600),
			}
			e := newRetEnv(t, p, msgs, nil)
			e.account.Keep, e.account.MaxMessageSize, e.account.MaxMessagesPerPoll = true, 1000, 3
			if err := e.store.MarkDelivered(e.account.Key, "seen", 100, e.now); err != nil {
				t.Fatal(err)
			}
			setProgress(t, e.env, "held", state.Progress{Failed: true, FailedAt: e.now, Attempts: 1})
			var got []Progress
			e.account.OnProgress = func(p Progress) { got = append(got, p) }
			res := e.at(time.Minute)
			if !res.OK() || res.Fetched != 3 || res.Limited != 1 || res.Held != 1 || res.TooLarge != 1 {
				t.Fatalf("poll %+v, want n1-n3 fetched, n4 limited, held and big left", res)
			}
			if len(got) != 4 {
				t.Fatalf("got %d progress reports %+v, want the listing and 3 deliveries", len(got), got)
			}
			if l := got[0]; l.Phase != ProgressListed || l.ToFetch != 3 || l.ToFetchBytes != 300+400+500 || l.Fetched != 0 {
				t.Errorf("listing report %+v, want 3 to fetch, 1200 bytes", l)
			}
			for i, r := range got[1:] {
				if r.Phase != ProgressMessage || r.Fetched != i+1 || r.ToFetch != 3 || r.ToFetchBytes != 1200 {
					t.Errorf("report %d = %+v, want message %d of 3", i+1, r, i+1)
				}
			}
			if last := got[len(got)-1]; last.Bytes < 1200 {
				t.Errorf("last report %+v: %d bytes received, want at least the 1200 listed", last, last.Bytes)
			}
		})
	}
}
