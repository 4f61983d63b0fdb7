package sandbox

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Default credentials and application of DefaultConfig. They are not secret:
// the sandbox only ever runs locally.
const (
	DefaultSecretID  = "AKIDsandbox000000000000000000000000"
	DefaultSecretKey = "sandbox-secret-key"
	DefaultAppID     = "1400000000"
	DefaultSignName  = "Sandbox"
)

// Defaults that New gives the zero fields of a Config (DefaultConfig sets the same values).
const (
	// DefaultMaxClockSkew is the default of Config.MaxClockSkew, as at Tencent.
	DefaultMaxClockSkew = 5 * time.Minute
	// DefaultCallbackTimeout is the default of Config.CallbackTimeout.
	DefaultCallbackTimeout = 10 * time.Second
)

// IDs of the built-in templates of DefaultConfig.
const (
	// TemplateOTP is a domestic verification-code template with 2 parameters
	// (code: 0-6 digits, minutes).
	TemplateOTP = "1000001"
	// TemplateNotice is a domestic notification template with 1 parameter.
	TemplateNotice = "1000002"
	// TemplateMarketing is a domestic marketing template with 0 parameters;
	// like every marketing template it may only be sent 08:00-22:00 China time
	// when Config.MarketingHours is set.
	TemplateMarketing = "1000003"
	// TemplateGreeting is a domestic notification template with 1 parameter (a name).
	TemplateGreeting = "1000004"
	// TemplateIntlOTP is an international verification-code template with 2 parameters.
	TemplateIntlOTP = "1000005"
	// TemplateUnderReview is a template that is not approved yet (StatusCode 1):
	// sending with it fails with FailedOperation.TemplateIncorrectOrUnapproved.
	TemplateUnderReview = "1000006"
)

// SMS types of a template, as in AddSmsTemplate's SmsType.
const (
	SmsTypeMarketing    = 1
	SmsTypeNotification = 2
	SmsTypeOTP          = 3
)

// Template status codes, as in DescribeSmsTemplateList's StatusCode.
const (
	TemplateApproved    = 0
	TemplateReviewing   = 1
	TemplateRejected    = -1
	templateStatusFirst = TemplateRejected
)

// Template is an SMS body template. Placeholders are {1}, {2}, ...; the
// number of parameters a send must carry is the highest placeholder index.
type Template struct {
	ID      string // numeric, e.g. "1000001"
	Name    string
	Content string
	// SmsType is SmsTypeMarketing, SmsTypeNotification or SmsTypeOTP
	// (0 means notification). OTP parameters must be 0-6 digits.
	SmsType int
	// International templates can only be sent to non-mainland numbers,
	// domestic ones only to +86 numbers.
	International bool
	// Status is TemplateApproved (the zero value), TemplateReviewing or TemplateRejected.
	Status int
}

// Params returns how many parameters a send with t must carry.
func (t Template) Params() int {
	n, _ := countPlaceholders(t.Content)
	return n
}

// Faults is the fault injection of a Server. The zero value injects nothing.
// Every random choice comes from the server's one seeded generator, so a
// sequence of calls made one after another is reproducible under Config.Seed.
type Faults struct {
	// Latency is added to every authenticated call; the wait ends early
	// when the client goes away. LatencyJitter adds a uniform [0, jitter).
	Latency       time.Duration
	LatencyJitter time.Duration

	// ErrorRate is the share of authenticated calls (any action) answered
	// with a whole-call error, picked uniformly from ErrorCodes (default
	// DefaultErrorCodes).
	ErrorRate  float64
	ErrorCodes []string
	// ErrorAfterSend makes an injected SendSms error happen after the send
	// was recorded (receipts created, counters updated), as a real
	// InternalError.Timeout may: the outcome is unknown to the client.
	ErrorAfterSend bool

	// QPS limits each action to this many accepted calls in any sliding
	// second of the server clock; calls above it get RequestLimitExceeded.
	// 0 means unlimited. Tencent counts per action too.
	QPS int

	// NumberCodes answers the given numbers (E.164, "+8613800000000") with
	// the given per-number code in SendStatusSet.
	NumberCodes map[string]string
	// NumberErrorRate is the share of otherwise valid numbers answered with
	// a per-number code picked from NumberErrorCodes (default
	// DefaultNumberErrorCodes).
	NumberErrorRate  float64
	NumberErrorCodes []string
	// NumberErrorFirstAttempt exposes only a number's first appearance in a
	// SendSms call to NumberErrorRate; later calls answer it normally, as
	// Tencent's 30-second rule lets a resend 35 s later through.
	NumberErrorFirstAttempt bool

	// DropRate is the share of SendSms calls whose reply is lost: the send
	// is recorded and its receipts created, then the connection is closed
	// without an answer.
	DropRate float64

	// HaltCode, when set, answers every SendSms with this whole-call error,
	// e.g. FailedOperation.InsufficientBalanceInSmsPackage.
	HaltCode string
}

// DefaultErrorCodes are the whole-call codes injected by Faults.ErrorRate
// when Faults.ErrorCodes is empty.
var DefaultErrorCodes = []string{
	"InternalError.Timeout",
	"InternalError.SendAndRecvFail",
	"InternalError.OtherError",
	"InternalError.UnknownError",
}

// DefaultNumberErrorCodes are the per-number codes injected by
// Faults.NumberErrorRate when Faults.NumberErrorCodes is empty.
var DefaultNumberErrorCodes = []string{
	"FailedOperation.PhoneNumberInBlacklist",
	"LimitExceeded.PhoneNumberOneHourLimit",
	"LimitExceeded.DeliveryFrequencyLimit",
}

// Config configures a Server. Start from DefaultConfig; all fields are plain
// values except Now and Logger, which may be nil.
type Config struct {
	// SecretID and SecretKey are the only API credentials accepted.
	SecretID  string
	SecretKey string
	// AppID is the only SmsSdkAppId accepted.
	AppID string
	// SignNames are the approved sign names (domestic sends must use one).
	SignNames []string
	// Templates are the templates known at start; AddSmsTemplate adds more.
	Templates []Template

	// MaxClockSkew is how far X-TC-Timestamp may be from the server clock
	// before AuthFailure.SignatureExpire. Default DefaultMaxClockSkew (5 min).
	MaxClockSkew time.Duration

	// FrequencyInterval is the minimum time between two accepted sends of
	// the same template to the same number
	// (LimitExceeded.PhoneNumberThirtySecondLimit); 0 turns the rule off.
	FrequencyInterval time.Duration
	// DailyLimit caps accepted sends per number per natural day, China time
	// (LimitExceeded.PhoneNumberDailyLimit); 0 turns the rule off.
	DailyLimit int
	// MarketingHours restricts marketing templates to 08:00-22:00 China time
	// (FailedOperation.MarketingSendTimeConstraint).
	MarketingHours bool
	// MaxParamLength, when > 0, limits each template parameter to that many
	// characters (InvalidParameterValue.TemplateParameterLengthLimit; 12 for
	// individual Tencent accounts).
	MaxParamLength int

	// PackageAmount is the size, in billed segments, of the SMS package;
	// when a send would exceed what is left it fails with
	// FailedOperation.InsufficientBalanceInSmsPackage. 0 means unlimited.
	PackageAmount uint64

	// ReceiptDelay is how long after an accepted send its delivery receipt
	// becomes pullable and is pushed to CallbackURL.
	ReceiptDelay time.Duration
	// ReceiptFailRate is the share of receipts reporting FAIL.
	ReceiptFailRate float64
	// ReceiptSessionContext makes receipts (pull and callback "ext") carry
	// the send's SessionContext, which a Tencent account only does after
	// support enables it.
	ReceiptSessionContext bool

	// CallbackURL, when set, receives every receipt as Tencent's status
	// callback: a POSTed JSON array of up to 100 items.
	CallbackURL string
	// ReplyCallbackURL, when set, receives every reply InjectReply makes
	// as Tencent's reply callback: one POSTed JSON object {extend, mobile,
	// nationcode, sign, text, time}. The reply stays pullable as well.
	ReplyCallbackURL string
	// CallbackTimeout bounds one callback POST. Default DefaultCallbackTimeout (10 s).
	CallbackTimeout time.Duration
	// CallbackRetries is how many more times a failed push is tried
	// (Tencent: 2). Negative means 0.
	CallbackRetries int
	// CallbackRetryInterval is the wait between tries.
	CallbackRetryInterval time.Duration

	// Seed seeds the one random generator behind every random choice.
	// 0 picks a seed from the clock (time.Now, not Now).
	Seed int64

	// Faults is the initial fault injection; see SetFaults.
	Faults Faults

	// Now is the server clock (nil means time.Now). It drives signature
	// expiry, frequency rules, receipt readiness, QPS windows and statistics.
	Now func() time.Time `json:"-"`
	// Logger receives logs (nil means none). Phone numbers are masked and
	// the secret key is never logged.
	Logger *zap.Logger `json:"-"`
}

// DefaultConfig returns the documented defaults:
//
//   - credentials DefaultSecretID / DefaultSecretKey, app DefaultAppID,
//     sign name DefaultSignName;
//   - templates TemplateOTP, TemplateNotice, TemplateMarketing,
//     TemplateGreeting, TemplateIntlOTP (approved) and TemplateUnderReview;
//   - FrequencyInterval 30 s, DailyLimit 10 (Tencent's documents give 2 to
//     10 per natural day), MarketingHours on;
//   - PackageAmount 100,000,000 segments;
//   - ReceiptDelay 2 s, ReceiptFailRate 0.02, no callback;
//     CallbackTimeout 10 s, CallbackRetries 2, CallbackRetryInterval 1 s;
//   - MaxClockSkew 5 min, Seed 1, no faults.
func DefaultConfig() Config {
	return Config{
		SecretID:  DefaultSecretID,
		SecretKey: DefaultSecretKey,
		AppID:     DefaultAppID,
		SignNames: []string{DefaultSignName},
		Templates: []Template{
			{ID: TemplateOTP, Name: "Verification code", SmsType: SmsTypeOTP,
				Content: "您的验证码为：{1}，{2}分钟内有效，请勿泄露于他人。"},
			{ID: TemplateNotice, Name: "Order shipped", SmsType: SmsTypeNotification,
				Content: "您的订单{1}已发货，请注意查收。"},
			{ID: TemplateMarketing, Name: "Promotion", SmsType: SmsTypeMarketing,
				Content: "新用户注册即送30元优惠券，快来体验吧！拒收请回复R"},
			{ID: TemplateGreeting, Name: "Greeting", SmsType: SmsTypeNotification,
				Content: "{1}，您好，感谢您使用我们的服务。"},
			{ID: TemplateIntlOTP, Name: "Verification code (international)", SmsType: SmsTypeOTP,
				International: true,
				Content:       "Your verification code is {1}. It expires in {2} minutes."},
			{ID: TemplateUnderReview, Name: "Pending review", SmsType: SmsTypeNotification,
				Status:  TemplateReviewing,
				Content: "您的账户{1}已开通。"},
		},
		MaxClockSkew:          DefaultMaxClockSkew,
		FrequencyInterval:     30 * time.Second,
		DailyLimit:            10,
		MarketingHours:        true,
		PackageAmount:         100_000_000,
		ReceiptDelay:          2 * time.Second,
		ReceiptFailRate:       0.02,
		CallbackTimeout:       DefaultCallbackTimeout,
		CallbackRetries:       2,
		CallbackRetryInterval: time.Second,
		Seed:                  1,
	}
}

// withDefaults returns c with a zero MaxClockSkew and CallbackTimeout set to their Default
// constants, a negative CallbackRetries set to 0, and a zero Seed picked from the clock.
func (c Config) withDefaults() Config {
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.CallbackTimeout == 0 {
		c.CallbackTimeout = DefaultCallbackTimeout
	}
	if c.CallbackRetries < 0 {
		c.CallbackRetries = 0
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	return c
}

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("sandbox: invalid config")

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if c.SecretID == "" || c.SecretKey == "" {
		return bad("SecretID and SecretKey are required")
	}
	if !isDigits(c.AppID) {
		return bad("AppID must be numeric, got %q", c.AppID)
	}
	if c.FrequencyInterval < 0 || c.DailyLimit < 0 || c.ReceiptDelay < 0 || c.MaxClockSkew < 0 ||
		c.MaxParamLength < 0 || c.CallbackTimeout < 0 || c.CallbackRetryInterval < 0 {
		return bad("durations and limits must not be negative")
	}
	if !validRate(c.ReceiptFailRate) {
		return bad("ReceiptFailRate must be in [0,1], got %v", c.ReceiptFailRate)
	}
	seen := make(map[string]bool, len(c.Templates))
	for _, t := range c.Templates {
		if _, err := strconv.ParseUint(t.ID, 10, 32); err != nil || t.ID[0] == '0' {
			return bad("template ID must be a positive 32-bit number, got %q", t.ID)
		}
		if seen[t.ID] {
			return bad("duplicate template ID %q", t.ID)
		}
		seen[t.ID] = true
		if _, err := countPlaceholders(t.Content); err != nil {
			return bad("template %s: %v", t.ID, err)
		}
		if t.SmsType < 0 || t.SmsType > SmsTypeOTP {
			return bad("template %s: SmsType %d", t.ID, t.SmsType)
		}
		if t.Status < templateStatusFirst || t.Status > TemplateReviewing {
			return bad("template %s: Status %d", t.ID, t.Status)
		}
	}
	return validateFaults(&c.Faults)
}

func validateFaults(f *Faults) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if !validRate(f.ErrorRate) || !validRate(f.NumberErrorRate) || !validRate(f.DropRate) {
		return bad("fault rates must be in [0,1]")
	}
	if f.Latency < 0 || f.LatencyJitter < 0 || f.QPS < 0 {
		return bad("Latency, LatencyJitter and QPS must not be negative")
	}
	return nil
}

func validRate(r float64) bool { return r >= 0 && r <= 1 }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// copyFaults deep-copies the maps and slices of f so callers can't mutate
// the server's state.
func copyFaults(f Faults) Faults {
	if f.NumberCodes != nil {
		m := make(map[string]string, len(f.NumberCodes))
		for k, v := range f.NumberCodes {
			m[k] = v
		}
		f.NumberCodes = m
	}
	f.ErrorCodes = append([]string(nil), f.ErrorCodes...)
	f.NumberErrorCodes = append([]string(nil), f.NumberErrorCodes...)
	return f
}
