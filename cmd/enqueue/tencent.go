package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/ratelimit"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// actionRates are Tencent's request limits of the actions enqueue calls, in calls per second;
// Tencent counts them per action, region and (sub-)account, so the limiters are fleet-wide: every
// enqueue (and worker) on the same Redis shares one budget per action.
var actionRates = map[string]int{
	"AddSmsTemplate":           2,
	"DescribeSmsTemplateList":  20,
	"SendStatusStatistics":     10,
	"CallbackStatusStatistics": 10,
	"SmsPackagesStatistics":    10,
}

// errNoTencent is the error of commands that need the Tencent API when none is configured and no
// worker advertises a sandbox.
var errNoTencent = errors.New("no Tencent API: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and SMS_ENDPOINT for a sandbox), or start a zero-setup worker, whose sandbox enqueue then uses")

// tencentAPI is the Tencent SMS API as enqueue calls it: one client, and one fleet-wide limiter
// per action, built on first use.
type tencentAPI struct {
	c        *tencentsms.Client
	rdb      redis.UniversalClient
	region   string
	secretID string
	// account names the Tencent account in Redis (template cache): a hash of its SecretId.
	account string
	// sandboxApp is the app of the advertised sandbox in use, "" for a configured API.
	sandboxApp string

	mu       sync.Mutex
	limiters map[string]*ratelimit.Limiter
}

// openTencent returns the configured Tencent API or, with no Tencent settings, the sandbox a
// zero-setup worker advertises in Redis (errNoTencent when there is none).
func (a *app) openTencent(ctx context.Context, rdb redis.UniversalClient, st *store.Store) (*tencentAPI, error) {
	s := a.cfg.Tencent
	var sandboxApp string
	if s.Sandbox() {
		rec, err := st.Sandbox(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoTencent
		}
		if err != nil {
			return nil, err
		}
		s.SecretID, s.SecretKey, s.Endpoint = sandbox.DefaultSecretID, sandbox.DefaultSecretKey, rec.URL
		sandboxApp = rec.AppID
	}
	cfg := s.Client()
	c, err := tencentsms.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("tencent API: %w", err)
	}
	region := cfg.Region
	if region == "" {
		region = tencentsms.DefaultRegion
	}
	sum := sha256.Sum256([]byte(s.SecretID))
	return &tencentAPI{c: c, rdb: rdb, region: region, secretID: s.SecretID, account: hex.EncodeToString(sum[:8]),
		sandboxApp: sandboxApp, limiters: map[string]*ratelimit.Limiter{}}, nil
}

// Close releases the client's connections.
func (t *tencentAPI) Close() error { return t.c.Close() }

// wait blocks until the fleet-wide limiter of action grants a call.
func (t *tencentAPI) wait(ctx context.Context, action string) error {
	t.mu.Lock()
	l := t.limiters[action]
	if l == nil {
		var err error
		l, err = ratelimit.New(t.rdb, ratelimit.Key(action, t.region, t.secretID), actionRates[action])
		if err != nil {
			t.mu.Unlock()
			return err
		}
		t.limiters[action] = l
	}
	t.mu.Unlock()
	if err := l.Wait(ctx); err != nil {
		return fmt.Errorf("%s rate limit: %w", action, err)
	}
	return nil
}

// tencentSession is what a Tencent command opens: Redis, the store and the API.
type tencentSession struct {
	api   *tencentAPI
	st    *store.Store
	close func()
}

// openSession opens Redis and the Tencent API.
func (a *app) openSession(ctx context.Context) (*tencentSession, error) {
	rdb, err := a.cfg.openRedis(ctx)
	if err != nil {
		return nil, err
	}
	st := store.New(rdb, store.Options{})
	api, err := a.openTencent(ctx, rdb, st)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return &tencentSession{api: api, st: st, close: func() { _ = api.Close(); _ = rdb.Close() }}, nil
}

// resolveApp returns the SmsSdkAppId of a command: --app, else SMS_SDK_APP_ID, else the app of
// the sandbox in use, else the one a worker advertises.
func (a *app) resolveApp(ctx context.Context, s *tencentSession, flagApp string, flagSet bool) (string, error) {
	switch {
	case flagSet:
		if !isDigits(flagApp) {
			return "", usagef("--app: %q is not a numeric SmsSdkAppId", flagApp)
		}
		return flagApp, nil
	case a.cfg.AppID != "":
		return a.cfg.AppID, nil
	case s.api.sandboxApp != "":
		return s.api.sandboxApp, nil
	}
	d, err := s.st.AdvertisedDefaults(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return "", usagef("--app: no SmsSdkAppId: pass --app, set SMS_SDK_APP_ID, or start a worker (it advertises its own)")
	}
	if err != nil {
		return "", err
	}
	return d.AppID, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Template cache TTLs of the check at send: an approved template changes rarely; one in review
// is read again soon, so that its approval shows.
const (
	templateCacheTTL        = 3 * time.Minute
	templatePendingCacheTTL = 30 * time.Second
)

// templateChecker is send's client.TemplateChecker: DescribeSmsTemplateList, cached in Redis.
type templateChecker struct {
	api *tencentAPI
	st  *store.Store
}

// Template looks templateID up in the cache, else at Tencent (domestic, then international).
func (c *templateChecker) Template(ctx context.Context, _, templateID string) (client.Template, error) {
	rec, err := c.st.CachedTemplate(ctx, c.api.account, templateID)
	if errors.Is(err, store.ErrNotFound) {
		var t *tencentsms.Template
		if t, err = c.api.findTemplate(ctx, templateID); err != nil {
			return client.Template{}, fmt.Errorf("%w (pass --no-check to skip the check when this account cannot call DescribeSmsTemplateList)", err)
		}
		if t == nil {
			return client.Template{}, client.ErrTemplateNotFound
		}
		rec = templateRecord(*t)
		ttl := templatePendingCacheTTL
		if t.Status == tencentsms.TemplateApproved {
			ttl = templateCacheTTL
		}
		if err := c.st.CacheTemplate(ctx, c.api.account, rec, ttl); err != nil {
			return client.Template{}, err
		}
	} else if err != nil {
		return client.Template{}, err
	}
	typ, err := c.st.TemplateType(ctx, c.api.account, templateID)
	if err != nil {
		return client.Template{}, err
	}
	t := templateOf(rec)
	return client.Template{
		ID: t.ID, Name: t.Name, Approved: t.Status == tencentsms.TemplateApproved, Status: statusText(t),
		Domestic: t.Domestic(), International: t.Abroad(), Params: t.Params(), Type: typ,
	}, nil
}

// findTemplate looks one template up by id, among the domestic and then the international ones;
// nil when the account has no such template.
func (t *tencentAPI) findTemplate(ctx context.Context, id string) (*tencentsms.Template, error) {
	for _, intl := range []bool{false, true} {
		ts, err := t.describeTemplates(ctx, tencentsms.TemplateListRequest{International: intl, TemplateIDs: []string{id}})
		if err != nil {
			return nil, err
		}
		for i := range ts {
			if ts[i].ID == id {
				return &ts[i], nil
			}
		}
	}
	return nil, nil
}

// describeTemplates is DescribeSmsTemplateList under its rate limit.
func (t *tencentAPI) describeTemplates(ctx context.Context, r tencentsms.TemplateListRequest) ([]tencentsms.Template, error) {
	const action = "DescribeSmsTemplateList"
	if err := t.wait(ctx, action); err != nil {
		return nil, err
	}
	return t.c.DescribeSmsTemplateList(ctx, r)
}

func templateRecord(t tencentsms.Template) store.TemplateRecord {
	return store.TemplateRecord{ID: t.ID, Name: t.Name, Content: t.Content, International: t.International,
		Status: int(t.Status), ReviewReply: t.ReviewReply}
}

func templateOf(r store.TemplateRecord) tencentsms.Template {
	return tencentsms.Template{ID: r.ID, Name: r.Name, Content: r.Content, International: r.International,
		Status: tencentsms.TemplateStatus(r.Status), ReviewReply: r.ReviewReply}
}

// statusText words a template's review state.
func statusText(t tencentsms.Template) string {
	switch t.Status {
	case tencentsms.TemplateApproved:
		return "approved"
	case tencentsms.TemplateInReview:
		return "in review"
	case tencentsms.TemplateApprovedPending:
		return "approved, not yet in effect"
	case tencentsms.TemplateRejected:
		if t.ReviewReply != "" {
			return "rejected: " + t.ReviewReply
		}
		return "rejected"
	}
	return fmt.Sprintf("status %d", t.Status)
}

// connectSend is connect for send: with check, the client refuses a job whose template does not
// fit (client.TemplateChecker over DescribeSmsTemplateList, cached in Redis). When no Tencent API
// is configured or advertised, the template cannot be checked: a notice says so and the job is
// sent unchecked.
func (a *app) connectSend(ctx context.Context, check bool) (*client.Client, func(), error) {
	if !check {
		return a.connect(ctx, client.Options{})
	}
	rdb, err := a.cfg.openRedis(ctx)
	if err != nil {
		return nil, nil, err
	}
	st := store.New(rdb, store.Options{})
	api, err := a.openTencent(ctx, rdb, st)
	var opts client.Options
	closeAll := func() { _ = rdb.Close() }
	switch {
	case errors.Is(err, errNoTencent):
		fmt.Fprintln(a.stderr, "enqueue: template not checked: no Tencent API is configured or advertised by a worker (--no-check skips the check)")
	case err != nil:
		_ = rdb.Close()
		return nil, nil, err
	default:
		opts.Templates = &templateChecker{api: api, st: st}
		closeAll = func() { _ = api.Close(); _ = rdb.Close() }
	}
	c, err := client.New(rdb, opts)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return c, closeAll, nil
}

// templateCheckHelp is the paragraph of send --help on the template check.
const templateCheckHelp = "Before accepting the job, send looks its template up (DescribeSmsTemplateList, cached in Redis for a\n" +
	"few minutes) and refuses the job, exit 1, when the template is unknown, not approved, domestic while\n" +
	"numbers are outside mainland China (or international while numbers are +86), or takes another number\n" +
	"of params than its {n} placeholders. --no-check skips the check (for accounts whose role cannot call\n" +
	"DescribeSmsTemplateList). With no Tencent settings and no sandbox advertised by a worker the template\n" +
	"is not checked."
