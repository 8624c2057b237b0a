package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/crashpoint"
	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// The batch path takes the new messages of an account whose one target is a
// maildir through the durability protocol in groups, so that a fetch is
// bound by the network rather than by fsyncs:
//
//	poll goroutine:  RETR n → write tmp/ (no fsync) → hand over → RETR n+1 …
//	sync workers:    fsync each file, several at once
//	committer:       one bbolt commit: the intent records of batch k and
//	                 the delivery records of batch k-1
//	                 → link each of batch k into new/ → fsync new/ once
//	poll goroutine:  DELE batch k-1's messages
//
// Nothing is weaker than one message at a time: each file is fsynced before
// it is linked; each link is covered by an intent record committed before
// it, so a crash after the link is recognised rather than redelivered; each
// delivery record is committed after new/ is fsynced; and each DELE is sent
// after the commit that records its message. A batch is whatever is ready
// when the committer gets to it, at most maxBatch messages: under a steady
// stream batches grow and share their commits, and a slow trickle is
// committed message by message without waiting for company.
const (
	maxBatch    = 64
	syncWorkers = 16
	// maxStaged bounds the messages received and not yet committed: files
	// held open, and work a crash makes fetchd redo.
	maxStaged = 64
)

// batchTarget is a maildir target that can stage without fsync.
type batchTarget interface {
	deliver.Deliverer
	StageUnsynced(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.MaildirStaged, error)
	SyncDir() error
}

// batchItem is one message on the batch path.
type batchItem struct {
	m    pop3.MessageInfo
	log  zerolog.Logger
	prog state.Progress // what earlier polls recorded (failed attempts)
	st   deliver.MaildirStaged
	n    int64 // octets received
	// err: not delivered; the message stays on the server. intent: the
	// intent record was committed (prog.Planned names the file).
	err    error
	intent bool
	// recordErr: delivered, but the delivery record failed.
	recordErr error
	at        time.Time
}

// batcher runs the batch path of one session.
type batcher struct {
	s      *session
	target *Target
	md     batchTarget
	tid    string // the target's id in the store's progress
	// ctx is the poll's without its cancellation: what was received whole
	// is finished, or the work of a whole batch would be redone.
	ctx context.Context

	toSync   chan *batchItem
	synced   chan *batchItem
	done     chan []*batchItem
	inFlight int  // handed over and not yet collected
	started  bool // the goroutines run
	closed   bool
	stream   *bufio.Reader // reused for each message, by the poll goroutine
}

// newBatcher starts the batch path when the account's one target is a
// maildir; nil otherwise.
func (s *session) newBatcher(ctx context.Context) *batcher {
	a := s.account
	if len(a.Targets) != 1 {
		return nil
	}
	md, ok := a.Targets[0].Deliverer.(batchTarget)
	if !ok {
		return nil
	}
	return &batcher{
		s: s, target: &a.Targets[0], md: md, tid: a.Targets[0].id(), ctx: context.WithoutCancel(ctx),
		toSync: make(chan *batchItem, maxStaged),
		synced: make(chan *batchItem, maxStaged),
		done:   make(chan []*batchItem, 1),
	}
}

// start runs the sync workers and the committer, at the first message: a
// poll that finds nothing new starts no goroutine.
func (b *batcher) start() {
	b.started = true
	var wg sync.WaitGroup
	for range syncWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range b.toSync {
				if err := it.st.SyncFile(b.ctx); err != nil {
					it.err = err
					it.st.Abort()
				}
				b.synced <- it
			}
		}()
	}
	go func() {
		wg.Wait()
		close(b.synced)
	}()
	go b.commitLoop()
}

// eligible reports whether message m, with what earlier polls recorded of
// it, takes the batch path: nothing may be half done.
func (b *batcher) eligible(prog state.Progress) bool {
	return b != nil && !b.closed && len(prog.Done) == 0 && len(prog.Planned) == 0 && prog.Spool == ""
}

// stage retrieves m into the maildir's tmp/ and hands it to the committer.
// It returns a stopError when the connection is unusable.
func (b *batcher) stage(ctx context.Context, m pop3.MessageInfo, prog state.Progress, log zerolog.Logger) error {
	s := b.s
	body, err := s.client.Retr(ctx, m.Num)
	if err != nil {
		var perr *pop3.Error
		if errors.As(err, &perr) {
			return b.fail(ctx, &batchItem{m: m, log: log, prog: prog, err: fmt.Errorf("server refused to send it: %w", err)})
		}
		return stop(err)
	}
	counted := &countingReader{r: body}
	if b.stream == nil {
		b.stream = bufio.NewReaderSize(counted, headerPeek)
	} else {
		b.stream.Reset(counted)
	}
	stream := b.stream
	head, _ := stream.Peek(headerPeek) // an error shows again when the target reads
	rp, rpOK := returnPath(head)
	env := s.envelope(b.target, m, b.target.Recipients, rp, rpOK)
	src := &eofReader{r: stream}
	st, serr := b.md.StageUnsynced(ctx, env, src)
	if serr == nil && !src.eof {
		st.Abort()
		serr = deliver.Temporary(b.tid, "deliver", errors.New("target accepted the message without reading all of it"))
	}
	// Close drains what a failed target did not read, so the session stays
	// in step; if it cannot, the connection is of no further use.
	if cerr := body.Close(); cerr != nil {
		if serr == nil {
			st.Abort()
		}
		return stop(cerr)
	}
	crashpoint.Hit(ctx, "retr.received")
	it := &batchItem{m: m, log: log, prog: prog, st: st, n: counted.n, err: serr}
	if serr != nil {
		s.retrievedUndelivered = true
		return b.fail(ctx, it)
	}
	return b.handOver(ctx, it)
}

// handOver passes a staged message to the sync workers. At most maxStaged
// are in flight: past that it waits for a batch to be committed, and
// settles it. The message is handed over even when settling fails: it was
// received whole, and is finished whatever the poll does next.
func (b *batcher) handOver(ctx context.Context, it *batchItem) error {
	var first error
	for b.inFlight >= maxStaged {
		if err := b.collectOne(ctx, first == nil); err != nil && first == nil {
			first = err
		}
	}
	if !b.started {
		b.start()
	}
	// toSync holds at most the inFlight items not yet taken by a worker,
	// fewer than its capacity: this never blocks.
	b.toSync <- it
	b.inFlight++
	return first
}

// collect settles the batches committed so far, without waiting.
func (b *batcher) collect(ctx context.Context) error {
	if b == nil {
		return nil
	}
	for {
		select {
		case batch := <-b.done:
			if err := b.settle(ctx, batch, true); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// collectOne waits for one committed batch and settles it.
func (b *batcher) collectOne(ctx context.Context, dele bool) error {
	batch, ok := <-b.done
	if !ok {
		// Cannot happen while inFlight > 0; never spin on it.
		b.inFlight = 0
		return errors.New("internal error: the committer ended with messages in flight")
	}
	return b.settle(ctx, batch, dele)
}

// finish waits for every message handed over and settles it; with dele
// false (the connection is gone) no DELE is sent. It returns the first
// error of settling.
func (b *batcher) finish(ctx context.Context, dele bool) error {
	if b == nil {
		return nil
	}
	if !b.closed {
		b.closed = true
		close(b.toSync)
	}
	if !b.started {
		return nil
	}
	var first error
	for b.inFlight > 0 {
		if err := b.collectOne(ctx, dele && first == nil); err != nil && first == nil {
			first = err
		}
	}
	// The committer ends by closing done: nothing of it outlives the poll.
	for range b.done {
	}
	return first
}

// settle counts a committed batch on the poll goroutine and deletes its
// messages on the server. An error ends the poll (with QUIT); a stopError
// means the connection is unusable.
func (b *batcher) settle(ctx context.Context, batch []*batchItem, dele bool) error {
	s, a := b.s, b.s.account
	b.inFlight -= len(batch)
	var first error
	for _, it := range batch {
		switch {
		case it.err != nil:
			s.retrievedUndelivered = true
			if err := b.fail(ctx, it); err != nil && first == nil {
				first = err
			}
			continue
		case it.recordErr != nil:
			// Delivered and not recorded: it must not be deleted. Its
			// intent record names the file, so the next poll finds it in
			// the maildir instead of delivering it again.
			if first == nil {
				first = fmt.Errorf("record delivery of message %d (UIDL %s): %w", it.m.Num, it.m.UID, it.recordErr)
			}
			continue
		}
		s.res.Fetched++
		s.res.Bytes += it.n
		s.reportFetched()
		s.seen[it.m.UID] = state.Record{State: state.Delivered, Delivered: it.at, Size: recordSize(it.m, it.n)}
		it.log.Debug().Int64("size", it.n).Msg("delivered")
		if a.Keep || !dele || first != nil {
			continue
		}
		if err := s.dele(ctx, it.m, true, deleDelivered, it.log); err != nil {
			first = err
		}
	}
	return first
}

// fail records a message of the batch path that was not delivered, as the
// one-at-a-time path does.
func (b *batcher) fail(ctx context.Context, it *batchItem) error {
	d := &delivery{s: b.s, m: it.m, log: it.log, prog: it.prog, tracked: true, done: map[string]bool{}}
	return d.fail(ctx, []error{it.err})
}

// commitLoop is the committer. It takes what the sync workers finished, as
// much as is ready up to maxBatch, as one batch, and overlaps the batches'
// commits: the delivery records of one batch (linked, new/ fsynced) and
// the intent records of the next go in a single bbolt commit. When nothing
// else is ready, the records of the last batch are committed on their own:
// a batch never waits for the next.
func (b *batcher) commitLoop() {
	defer close(b.done)
	var linked []*batchItem // linked and new/ fsynced, not yet recorded
	for {
		var batch []*batchItem
		if len(linked) == 0 {
			it, ok := <-b.synced
			if !ok {
				return
			}
			batch = append(batch, it)
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case it, ok := <-b.synced:
				if !ok {
					break gather
				}
				batch = append(batch, it)
			default:
				break gather
			}
		}
		start := time.Now()
		b.record(linked, batch)
		if len(linked) > 0 {
			b.done <- linked
		}
		linked = b.link(batch)
		b.s.log.Trace().Int("messages", len(batch)).Dur("took", time.Since(start)).Msg("batch committed")
		if len(linked) == 0 && len(batch) > 0 {
			b.done <- batch // every one failed
		} else if len(linked) < len(batch) {
			b.done <- failed(batch)
		}
	}
}

// failed returns the items of batch that failed.
func failed(batch []*batchItem) []*batchItem {
	var out []*batchItem
	for _, it := range batch {
		if it.err != nil {
			out = append(out, it)
		}
	}
	return out
}

// record commits, in one transaction, the delivery records of linked and
// the intent records of next (the items of next that are still alive).
// Failures are noted on the items.
func (b *batcher) record(linked, next []*batchItem) {
	s, ctx, tid := b.s, b.ctx, b.tid
	var recs map[string]state.Record
	if len(linked) > 0 {
		now := s.poller.now()
		recs = make(map[string]state.Record, len(linked))
		for _, it := range linked {
			it.at = now
			recs[it.m.UID] = state.Record{State: state.Delivered, Delivered: now, Size: recordSize(it.m, it.n)}
		}
	}
	intents := make(map[string]state.Progress, len(next))
	for _, it := range next {
		if it.err == nil {
			p := it.prog
			p.Planned = map[string]string{tid: it.st.FinalPath()}
			intents[it.m.UID] = p
		}
	}
	if len(recs) == 0 && len(intents) == 0 {
		return
	}
	if err := s.poller.Store.RecordBatch(s.account.Key, recs, intents); err != nil {
		for _, it := range linked {
			it.recordErr = err
		}
		for _, it := range next {
			if it.err == nil {
				it.err = deliver.Temporary(tid, "record intent", err)
				it.st.Abort()
			}
		}
		return
	}
	if len(intents) > 0 {
		crashpoint.Hit(ctx, "store.intent")
	}
	if len(recs) > 0 {
		crashpoint.Hit(ctx, "store.delivered")
	}
	for _, it := range next {
		if it.err == nil {
			it.intent = true
			it.prog.Planned = intents[it.m.UID].Planned
		}
	}
}

// link links each item of batch whose intent is recorded into new/, and
// fsyncs new/ once. It returns the items now durable in the maildir.
func (b *batcher) link(batch []*batchItem) []*batchItem {
	ctx, tid := b.ctx, b.tid
	var linked []*batchItem
	for _, it := range batch {
		if it.err != nil {
			continue
		}
		if err := it.st.Link(); err != nil {
			it.err = err
			it.st.Abort()
			continue
		}
		// The name changes if the planned one was taken meanwhile.
		it.prog.Planned = map[string]string{tid: it.st.FinalPath()}
		crashpoint.Hit(ctx, "maildir.linked")
		linked = append(linked, it)
	}
	if len(linked) == 0 {
		return nil
	}
	if err := b.md.SyncDir(); err != nil {
		// Linked but perhaps not durable: failed, and the intent record
		// makes a retry find the file rather than deliver a second copy.
		for _, it := range linked {
			it.err = err
		}
		return nil
	}
	crashpoint.Hit(ctx, "maildir.dirsynced")
	return linked
}

// recordSize is the size a delivery record keeps: the one LIST gave, not the
// octets received: a server may add a final CRLF the listed size does not
// count, and mayDelete compares a later listing with this one.
func recordSize(m pop3.MessageInfo, received int64) int64 {
	if m.Size >= 0 {
		return m.Size
	}
	return received
}
