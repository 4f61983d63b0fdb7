package retry

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// codeCase is one code, the class it must have, and the action Decide must
// return for it on a first attempt of a normal job with default settings.
type codeCase struct {
	code   string
	class  Class
	action Action
}

// allCodes lists every code of tencent-sms.md §2, every constant of the SDK's
// sms/v20210111/errors.go (v1.1.0), the common codes [T8], the SDK's
// client-side codes, our transport codes, and codes the table does not know.
var allCodes = []codeCase{
	// Success.
	{"Ok", ClassOK, Done},

	// SDK sms/v20210111/errors.go v1.1.0, every constant, in file order.
	{"FailedOperation.ContainSensitiveWord", ClassJobPermanent, FailJob},
	{"FailedOperation.FailResolvePacket", ClassRequestShape, FailNumber},
	{"FailedOperation.ForbidAddMarketingTemplates", ClassJobPermanent, FailJob},
	{"FailedOperation.InsufficientBalanceInSmsPackage", ClassAppHalt, HaltApp},
	{"FailedOperation.JsonParseFail", ClassRequestShape, FailNumber},
	{"FailedOperation.MarketingSendTimeConstraint", ClassAppDeferred, DeferUntil},
	{"FailedOperation.MissingSignature", ClassJobPermanent, FailJob},
	{"FailedOperation.MissingSignatureList", ClassJobPermanent, FailJob},
	{"FailedOperation.MissingSignatureToModify", ClassJobPermanent, FailJob},
	{"FailedOperation.MissingTemplateList", ClassJobPermanent, FailJob},
	{"FailedOperation.MissingTemplateToModify", ClassJobPermanent, FailJob},
	{"FailedOperation.NotEnterpriseCertification", ClassRequestShape, FailNumber},
	{"FailedOperation.OtherError", ClassRequestShape, FailNumber},
	{"FailedOperation.ParametersOtherError", ClassRequestShape, FailNumber},
	{"FailedOperation.PhoneNumberInBlacklist", ClassNumberPermanent, FailNumber},
	{"FailedOperation.PhoneNumberParseFail", ClassNumberPermanent, FailNumber},
	{"FailedOperation.ProhibitSubAccountUse", ClassAppHalt, HaltApp},
	{"FailedOperation.QualificationIdNotApproved", ClassRequestShape, FailNumber},
	{"FailedOperation.SignIdNotExist", ClassJobPermanent, FailJob},
	{"FailedOperation.SignNumberLimit", ClassRequestShape, FailNumber},
	{"FailedOperation.SignatureIncorrectOrUnapproved", ClassJobPermanent, FailJob},
	{"FailedOperation.TemplateAlreadyPassedCheck", ClassRequestShape, FailNumber},
	{"FailedOperation.TemplateIdNotExist", ClassJobPermanent, FailJob},
	{"FailedOperation.TemplateIncorrectOrUnapproved", ClassJobPermanent, FailJob},
	{"FailedOperation.TemplateNumberLimit", ClassRequestShape, FailNumber},
	{"FailedOperation.TemplateParamSetNotMatchApprovedTemplate", ClassJobPermanent, FailJob},
	{"FailedOperation.TemplateUnapprovedOrNotExist", ClassJobPermanent, FailJob},
	{"InternalError.JsonParseFail", ClassRequestShape, FailNumber},
	{"InternalError.OtherError", ClassUnknownOutcome, Reconcile},
	{"InternalError.ParseBackendResponseFail", ClassUnknownOutcome, Reconcile},
	{"InternalError.RequestTimeException", ClassClock, RetryCall},
	{"InternalError.RestApiInterfaceNotExist", ClassRequestShape, FailNumber},
	{"InternalError.SendAndRecvFail", ClassUnknownOutcome, Reconcile},
	{"InternalError.SigFieldMissing", ClassAppHalt, HaltApp},
	{"InternalError.SigVerificationFail", ClassAppHalt, HaltApp},
	{"InternalError.Timeout", ClassUnknownOutcome, Reconcile},
	{"InternalError.UnknownError", ClassUnknownOutcome, Reconcile},
	{"InvalidParameter", ClassRequestShape, FailNumber},
	{"InvalidParameter.AppidAndBizId", ClassAppHalt, HaltApp},
	{"InvalidParameter.DirtyWordFound", ClassJobPermanent, FailJob},
	{"InvalidParameter.InvalidParameters", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.BeginTimeVerifyFail", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.ContentLengthLimit", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.EndTimeVerifyFail", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.ImageInvalid", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.IncorrectPhoneNumber", ClassNumberPermanent, FailNumber},
	{"InvalidParameterValue.InvalidDocumentType", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.InvalidInternational", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.InvalidSignPurpose", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.InvalidSmsType", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.InvalidStartTime", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.InvalidTemplateFormat", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.InvalidUsedMethod", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.LimitVerifyFail", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.MarketingTemplateWithoutUnsubscribe", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.OffsetVerifyFail", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.QualificationIdNotFound", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.SdkAppIdNotExist", ClassJobPermanent, FailJob}, // not a halt: the job fails at once
	{"InvalidParameterValue.SignAlreadyPassedCheck", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.SignExistAndUnapproved", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.SignNameLengthTooLong", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.TemplateParameterFormatError", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.TemplateParameterLengthLimit", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.TemplateWithDirtyWords", ClassJobPermanent, FailJob},
	{"InvalidParameterValue.UnsupportedTemplateVariable", ClassJobPermanent, FailJob},
	{"LimitExceeded.AppCountryOrRegionDailyLimit", ClassAppDeferred, DeferUntil},
	{"LimitExceeded.AppCountryOrRegionInBlacklist", ClassNumberPermanent, FailNumber},
	{"LimitExceeded.AppDailyLimit", ClassAppDeferred, DeferUntil},
	{"LimitExceeded.AppGlobalDailyLimit", ClassAppDeferred, DeferUntil},
	{"LimitExceeded.AppMainlandChinaDailyLimit", ClassAppDeferred, DeferUntil},
	{"LimitExceeded.DailyLimit", ClassAppDeferred, DeferUntil},
	{"LimitExceeded.DeliveryFrequencyLimit", ClassNumberRetryAfter, RetryNumberAt},
	{"LimitExceeded.PhoneNumberCountLimit", ClassRequestShape, FailNumber},
	{"LimitExceeded.PhoneNumberDailyLimit", ClassNumberRetryAfter, FailNumber},
	{"LimitExceeded.PhoneNumberOneHourLimit", ClassNumberRetryAfter, RetryNumberAt},
	{"LimitExceeded.PhoneNumberSameContentDailyLimit", ClassNumberRetryAfter, FailNumber},
	{"LimitExceeded.PhoneNumberThirtySecondLimit", ClassNumberRetryAfter, RetryNumberAt},
	{"MissingParameter", ClassRequestShape, FailNumber},
	{"MissingParameter.EmptyPhoneNumberSet", ClassRequestShape, FailNumber},
	{"UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny", ClassJobPermanent, FailJob},
	{"UnauthorizedOperation.RequestIpNotInWhitelist", ClassAppHalt, HaltApp},
	{"UnauthorizedOperation.RequestPermissionDeny", ClassAppHalt, HaltApp},
	{"UnauthorizedOperation.SdkAppIdIsDisabled", ClassAppHalt, HaltApp},
	{"UnauthorizedOperation.ServiceSuspendDueToArrears", ClassAppHalt, HaltApp},
	{"UnauthorizedOperation.SmsSdkAppIdVerifyFail", ClassAppHalt, HaltApp},
	{"UnsupportedOperation", ClassRequestShape, FailNumber},
	{"UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone", ClassNumberPermanent, FailNumber},
	{"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", ClassRequestShape, FailNumber},
	{"UnsupportedOperation.GlobalTemplateToChineseMainlandPhone", ClassNumberPermanent, FailNumber},
	{"UnsupportedOperation.UnsupportedRegion", ClassNumberPermanent, FailNumber},

	// tencent-sms.md §2 spellings that differ from the SDK.
	{"UnauthorizedOperation.SerivceSuspendDueToArrears", ClassAppHalt, HaltApp},
	{"UnsupportedOperation.UnsuportedRegion", ClassNumberPermanent, FailNumber},

	// Common codes [T8].
	{"ActionOffline", ClassRequestShape, FailNumber},
	{"AuthFailure", ClassAppHalt, HaltApp},
	{"AuthFailure.InvalidAuthorization", ClassAppHalt, HaltApp},
	{"AuthFailure.InvalidSecretId", ClassAppHalt, HaltApp},
	{"AuthFailure.MFAFailure", ClassAppHalt, HaltApp},
	{"AuthFailure.SecretIdNotFound", ClassAppHalt, HaltApp},
	{"AuthFailure.SignatureExpire", ClassClock, RetryCall},
	{"AuthFailure.SignatureFailure", ClassAppHalt, HaltApp},
	{"AuthFailure.TokenFailure", ClassAppHalt, HaltApp},
	{"AuthFailure.UnauthorizedOperation", ClassAppHalt, HaltApp},
	{"DryRunOperation", ClassRequestShape, FailNumber},
	{"InternalError", ClassUnknownOutcome, Reconcile},
	{"InvalidAction", ClassRequestShape, FailNumber},
	{"InvalidParameterValue", ClassRequestShape, FailNumber},
	{"InvalidRequest", ClassRequestShape, FailNumber},
	{"IpInBlacklist", ClassAppHalt, HaltApp},
	{"IpNotInWhitelist", ClassAppHalt, HaltApp},
	{"NoSuchProduct", ClassRequestShape, FailNumber},
	{"NoSuchVersion", ClassRequestShape, FailNumber},
	{"RequestLimitExceeded", ClassTransient, RetryCall},
	{"RequestLimitExceeded.GlobalRegionUinLimitExceeded", ClassTransient, RetryCall},
	{"RequestLimitExceeded.IPLimitExceeded", ClassTransient, RetryCall},
	{"RequestLimitExceeded.UinLimitExceeded", ClassTransient, RetryCall},
	{"RequestSizeLimitExceeded", ClassRequestShape, FailNumber},
	{"ResponseSizeLimitExceeded", ClassUnknownOutcome, Reconcile},
	{"ServiceUnavailable", ClassUnknownOutcome, Reconcile},
	{"UnauthorizedOperation", ClassAppHalt, HaltApp},
	{"UnknownParameter", ClassRequestShape, FailNumber},
	{"UnsupportedProtocol", ClassRequestShape, FailNumber},
	{"UnsupportedRegion", ClassRequestShape, FailNumber},
	// Generic common codes with no specific rule: bounded retry.
	{"FailedOperation", ClassUnlisted, RetryCall},
	{"LimitExceeded", ClassUnlisted, RetryCall},
	{"ResourceInUse", ClassUnlisted, RetryCall},
	{"ResourceInsufficient", ClassUnlisted, RetryCall},
	{"ResourceNotFound", ClassUnlisted, RetryCall},
	{"ResourceUnavailable", ClassUnlisted, RetryCall},

	// The SDK's client-side codes (tencentcloud/common v1.1.0).
	{"ClientError.CircuitBreakerError", ClassTransient, RetryCall},
	{"ClientError.CredentialError", ClassAppHalt, HaltApp},
	{"ClientError.HttpStatusCodeError", ClassUnknownOutcome, Reconcile},
	{"ClientError.INIError", ClassAppHalt, HaltApp},
	{"ClientError.IOError", ClassUnknownOutcome, Reconcile},
	{"ClientError.InvalidParameter", ClassRequestShape, FailNumber},
	{"ClientError.NetworkError", ClassUnknownOutcome, Reconcile},
	{"ClientError.ParseJsonError", ClassUnknownOutcome, Reconcile},
	{"ClientError.TypeError", ClassUnknownOutcome, Reconcile},

	// Our transport codes.
	{CodeTransportNotSent, ClassTransient, RetryCall},
	{CodeTransportUnknown, ClassUnknownOutcome, Reconcile},

	// Unknown sub-codes of families with a clear meaning.
	{"AuthFailure.SomethingNew", ClassAppHalt, HaltApp},
	{"RequestLimitExceeded.SomethingNew", ClassTransient, RetryCall},
	{"InternalError.SomethingNew", ClassUnknownOutcome, Reconcile},
	{"ClientError.SomethingNew", ClassUnknownOutcome, Reconcile},
	{"InvalidParameter.SomethingNew", ClassRequestShape, FailNumber},
	{"InvalidParameterValue.SomethingNew", ClassRequestShape, FailNumber},
	{"MissingParameter.SomethingNew", ClassRequestShape, FailNumber},

	// Codes the table does not know: bounded retry, never a halt.
	{"FailedOperation.SomethingNew", ClassUnlisted, RetryCall},
	{"LimitExceeded.SomethingNew", ClassUnlisted, RetryCall},
	{"UnauthorizedOperation.SomethingNew", ClassUnlisted, RetryCall},
	{"UnsupportedOperation.SomethingNew", ClassUnlisted, RetryCall},
	{"AuthFailure.", ClassUnlisted, RetryCall}, // a bare prefix is not a code
	{"AuthFailureX", ClassUnlisted, RetryCall},
	{"Foo.Bar", ClassUnlisted, RetryCall},
	{"1008", ClassUnlisted, RetryCall}, // a legacy v5 numeric code
	{"Fail", ClassUnlisted, RetryCall},
}

// now0 is 2026-03-10 12:00 Beijing time.
var now0 = time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)

func fixedRand(f float64) func() float64 { return func() float64 { return f } }

func TestClassifyAndDecideEveryCode(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Rand = fixedRand(0.5)
	seen := map[string]bool{}
	for _, tc := range allCodes {
		if seen[tc.code] {
			t.Errorf("%q listed twice", tc.code)
		}
		seen[tc.code] = true
		if got := Classify(tc.code); got != tc.class {
			t.Errorf("Classify(%q) = %v, want %v", tc.code, got, tc.class)
		}
		for _, perNumber := range []bool{false, true} {
			o := Outcome{Code: tc.code, PerNumber: perNumber}
			d := p.Decide(now0, 1, o, Job{Priority: PriorityNormal})
			if d.Action != tc.action || d.Class != tc.class || d.Code != tc.code || d.Expired {
				t.Errorf("Decide(%+v) = %+v, want action %v class %v", o, d, tc.action, tc.class)
			}
			checkInvariants(t, now0, o, d)

			// A transport failure overrides whatever code came with it.
			o.Transport = TransportNotSent
			if d := p.Decide(now0, 1, o, Job{}); d.Action != RetryCall || d.Class != ClassTransient || d.Code != tc.code {
				t.Errorf("Decide(%+v) = %+v, want retry-call transient", o, d)
			}
			o.Transport = TransportUnknown
			if d := p.Decide(now0, 1, o, Job{}); d.Action != Reconcile || d.Class != ClassUnknownOutcome || d.Code != tc.code {
				t.Errorf("Decide(%+v) = %+v, want reconcile", o, d)
			}
		}
	}
	// Every code in the table is in the list above.
	for code := range table {
		if !seen[code] {
			t.Errorf("table code %q missing from allCodes", code)
		}
	}
}

func TestTransportWithoutCode(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Rand = fixedRand(0.5)
	tests := []struct {
		transport Transport
		action    Action
		class     Class
		code      string
	}{
		{TransportNone, Done, ClassOK, CodeOK},
		{TransportNotSent, RetryCall, ClassTransient, CodeTransportNotSent},
		{TransportUnknown, Reconcile, ClassUnknownOutcome, CodeTransportUnknown},
		{Transport(42), Reconcile, ClassUnknownOutcome, CodeTransportUnknown}, // not a known value: the safe reading
		{Transport(-1), Reconcile, ClassUnknownOutcome, CodeTransportUnknown},
	}
	for _, tc := range tests {
		for _, perNumber := range []bool{false, true} {
			o := Outcome{Transport: tc.transport, PerNumber: perNumber}
			d := p.Decide(now0, 1, o, Job{})
			if d.Action != tc.action || d.Class != tc.class || d.Code != tc.code {
				t.Errorf("Decide(%+v) = %+v, want %v %v %q", o, d, tc.action, tc.class, tc.code)
			}
			checkInvariants(t, now0, o, d)
		}
	}
}

func TestCodeSpellingVariants(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, code string }{
		{"", CodeOK},
		{"  ", CodeOK},
		{"OK", CodeOK},
		{"ok", CodeOK},
		{" Ok\n", CodeOK},
		{"internalerror.timeout", "InternalError.Timeout"},
		{" LimitExceeded.PhoneNumberThirtySecondLimit ", "LimitExceeded.PhoneNumberThirtySecondLimit"},
		{"authfailure.somethingnew", "authfailure.somethingnew"}, // prefix rule, spelling kept
		{" Foo.Bar ", "Foo.Bar"},
	}
	p := DefaultPolicy()
	for _, tc := range tests {
		d := p.Decide(now0, 1, Outcome{Code: tc.in}, Job{})
		if d.Code != tc.code {
			t.Errorf("Decide(%q).Code = %q, want %q", tc.in, d.Code, tc.code)
		}
		if want := Classify(tc.code); d.Class != want || Classify(tc.in) != want {
			t.Errorf("class of %q = %v / %v, want %v", tc.in, d.Class, Classify(tc.in), want)
		}
	}
}

// TestSDKConstantsListed reads the SDK's errors.go from the module cache, at
// the version go.mod requires, and checks every constant is in allCodes and
// in the table. It catches codes added by an SDK upgrade.
func TestSDKConstantsListed(t *testing.T) {
	t.Parallel()
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Skipf("no go.mod: %v", err)
	}
	m := regexp.MustCompile(`github\.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Skip("go.mod does not require the Tencent SMS SDK")
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		cache = filepath.Join(filepath.SplitList(build.Default.GOPATH)[0], "pkg", "mod")
	}
	path := filepath.Join(cache, "github.com", "tencentcloud", "tencentcloud-sdk-go", "tencentcloud", "sms@"+string(m[1]), "v20210111", "errors.go")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("SDK source not in the module cache: %v", err)
	}
	listed := map[string]bool{}
	for _, tc := range allCodes {
		listed[tc.code] = true
	}
	consts := regexp.MustCompile(`(?m)^\s*[A-Z_]+ = "([^"]+)"`).FindAllSubmatch(src, -1)
	if len(consts) < 80 {
		t.Fatalf("found only %d constants in %s: has the file changed shape?", len(consts), path)
	}
	for _, c := range consts {
		code := string(c[1])
		if !listed[code] {
			t.Errorf("SDK code %q missing from allCodes", code)
		}
		if _, ok := table[code]; !ok {
			t.Errorf("SDK code %q missing from the table", code)
		}
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for c := ClassOK; c <= ClassUnlisted; c++ {
		s := c.String()
		if s == "" || names[s] {
			t.Errorf("Class(%d).String() = %q: empty or duplicate", int(c), s)
		}
		names[s] = true
	}
	for a := Done; a <= DeferUntil; a++ {
		s := a.String()
		if s == "" || names[s] {
			t.Errorf("Action(%d).String() = %q: empty or duplicate", int(a), s)
		}
		names[s] = true
	}
	for _, tc := range []struct{ got, want string }{
		{Class(0).String(), "Class(0)"},
		{Class(99).String(), "Class(99)"},
		{Action(0).String(), "Action(0)"},
		{Action(-3).String(), "Action(-3)"},
		{ClassAppHalt.String(), "app-halt"},
		{RetryNumberAt.String(), "retry-number-at"},
		{TransportNone.String(), "none"},
		{TransportNotSent.String(), "not-sent"},
		{TransportUnknown.String(), "unknown"},
		{Transport(7).String(), "Transport(7)"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}
