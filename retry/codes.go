package retry

import (
	"strconv"
	"strings"
)

// Codes the dispatcher has to recognise by name. Every other code is handled
// through [Classify] and [Policy.Decide].
const (
	// CodeOK is the per-number Code of a number Tencent accepted.
	CodeOK = "Ok"
	// CodePhoneNumberInBlacklist means the number unsubscribed or is on a
	// carrier do-not-disturb list: fail it and add it to the suppression list.
	CodePhoneNumberInBlacklist = "FailedOperation.PhoneNumberInBlacklist"
	// CodeSdkAppIdNotExist means the SmsSdkAppId of the call does not exist:
	// the job naming it fails, and the receipt puller stops pulling it.
	CodeSdkAppIdNotExist = "InvalidParameterValue.SdkAppIdNotExist"
	// CodeTransportNotSent is our own code (not Tencent's) for a request that
	// was certainly not written to the network (dial refused, DNS failure).
	CodeTransportNotSent = "Transport.NotSent"
	// CodeTransportUnknown is our own code (not Tencent's) for a request that
	// may have been written but got no answer (timeout or reset).
	CodeTransportUnknown = "Transport.Unknown"
)

// Class groups codes that call for the same kind of action. The zero Class is
// not a valid class.
type Class int

// The classes of tencent-sms.md §2, plus ClassOK and ClassUnlisted.
const (
	// ClassOK is success ("Ok").
	ClassOK Class = iota + 1
	// ClassTransient: throttled before acceptance (RequestLimitExceeded and
	// its sub-codes) or a transport failure before the request was written.
	// Nothing was sent; retry the call with backoff.
	ClassTransient
	// ClassUnknownOutcome: the message may or may not have been sent
	// (InternalError.Timeout and friends, transport failures after the
	// request was written). Reconcile before any resend.
	ClassUnknownOutcome
	// ClassClock: the request was refused because our clock is skewed.
	ClassClock
	// ClassNumberRetryAfter: a per-number frequency limit; retry the number
	// later (or fail it, for daily limits).
	ClassNumberRetryAfter
	// ClassNumberPermanent: this number can never be sent to by this job.
	ClassNumberPermanent
	// ClassRequestShape: the request was malformed (our bug); never retried.
	ClassRequestShape
	// ClassJobPermanent: the template, signature or content is refused, or
	// the SmsSdkAppId the job names does not exist; no number of the job can
	// succeed.
	ClassJobPermanent
	// ClassAppHalt: credentials, balance or app configuration; every job on
	// the app fails until an operator acts.
	ClassAppHalt
	// ClassAppDeferred: an app-wide cap or send window that lifts at a known
	// time of day.
	ClassAppDeferred
	// ClassUnlisted: a code without a rule (new, generic or misspelt).
	ClassUnlisted
)

var classNames = [...]string{
	ClassOK:               "ok",
	ClassTransient:        "transient",
	ClassUnknownOutcome:   "unknown-outcome",
	ClassClock:            "clock",
	ClassNumberRetryAfter: "number-retry-after",
	ClassNumberPermanent:  "number-permanent",
	ClassRequestShape:     "request-shape",
	ClassJobPermanent:     "job-permanent",
	ClassAppHalt:          "app-halt",
	ClassAppDeferred:      "app-deferred",
	ClassUnlisted:         "unlisted",
}

// String returns a short lower-case name, usable as a metric label.
func (c Class) String() string {
	if c > 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// wait says which time a code implies, for the classes whose action waits.
type wait int

const (
	waitNone         wait = iota
	waitThirtySecond      // Policy.ThirtySecondDelay
	waitOneHour           // Policy.OneHourDelay
	waitFrequency         // Policy.FrequencyDelay
	waitNumberDaily       // next 00:00 Beijing if Job.DeferDailyLimit, else fail
	waitNextDay           // next 00:00 Beijing
	waitMarketing         // next 08:00 Beijing
)

type rule struct {
	class Class
	wait  wait
}

// table maps every code we know to its rule. Keys are exact Tencent
// spellings; sources: tencent-sms.md §2 (from the SMS error-code page [T2],
// the SDK constants in sms/v20210111/errors.go [T3e] and the common codes
// [T8]) and the client-side codes of the SDK's common package.
var table = map[string]rule{
	CodeOK: {ClassOK, waitNone},

	// Account/app halt: nothing on this app can be sent until someone acts.
	"FailedOperation.InsufficientBalanceInSmsPackage":  {ClassAppHalt, waitNone},
	"UnauthorizedOperation.SerivceSuspendDueToArrears": {ClassAppHalt, waitNone}, // doc spelling (sic)
	"UnauthorizedOperation.ServiceSuspendDueToArrears": {ClassAppHalt, waitNone}, // SDK spelling
	"UnauthorizedOperation.SdkAppIdIsDisabled":         {ClassAppHalt, waitNone},
	"UnauthorizedOperation.SmsSdkAppIdVerifyFail":      {ClassAppHalt, waitNone},
	"UnauthorizedOperation.RequestIpNotInWhitelist":    {ClassAppHalt, waitNone},
	"UnauthorizedOperation.RequestPermissionDeny":      {ClassAppHalt, waitNone},
	"UnauthorizedOperation":                            {ClassAppHalt, waitNone}, // common: not authorised (CAM)
	"InvalidParameter.AppidAndBizId":                   {ClassAppHalt, waitNone}, // account and SdkAppId do not match
	"FailedOperation.ProhibitSubAccountUse":            {ClassAppHalt, waitNone}, // our key is a sub-account without the right
	"InternalError.SigFieldMissing":                    {ClassAppHalt, waitNone}, // refused at the signature check: not sent
	"InternalError.SigVerificationFail":                {ClassAppHalt, waitNone},
	"AuthFailure":                                      {ClassAppHalt, waitNone},
	"AuthFailure.SecretIdNotFound":                     {ClassAppHalt, waitNone},
	"AuthFailure.InvalidSecretId":                      {ClassAppHalt, waitNone},
	"AuthFailure.SignatureFailure":                     {ClassAppHalt, waitNone},
	"AuthFailure.UnauthorizedOperation":                {ClassAppHalt, waitNone},
	"AuthFailure.TokenFailure":                         {ClassAppHalt, waitNone},
	"AuthFailure.InvalidAuthorization":                 {ClassAppHalt, waitNone},
	"AuthFailure.MFAFailure":                           {ClassAppHalt, waitNone},
	"IpInBlacklist":                                    {ClassAppHalt, waitNone},
	"IpNotInWhitelist":                                 {ClassAppHalt, waitNone},
	"ClientError.CredentialError":                      {ClassAppHalt, waitNone}, // SDK: no credentials
	"ClientError.INIError":                             {ClassAppHalt, waitNone}, // SDK: credentials file

	// Halt until a time of day (Beijing time).
	"LimitExceeded.AppDailyLimit":                 {ClassAppDeferred, waitNextDay},
	"LimitExceeded.DailyLimit":                    {ClassAppDeferred, waitNextDay},
	"LimitExceeded.AppMainlandChinaDailyLimit":    {ClassAppDeferred, waitNextDay},
	"LimitExceeded.AppGlobalDailyLimit":           {ClassAppDeferred, waitNextDay},
	"LimitExceeded.AppCountryOrRegionDailyLimit":  {ClassAppDeferred, waitNextDay},
	"FailedOperation.MarketingSendTimeConstraint": {ClassAppDeferred, waitMarketing},

	// Job-level permanent: template, signature, content, or the app the job names.
	// An app that does not exist is not a halt: no probe can make it exist, and halting would
	// park the job for ever with no reason given; the job fails with the code at once.
	CodeSdkAppIdNotExist:                                             {ClassJobPermanent, waitNone},
	"FailedOperation.TemplateIncorrectOrUnapproved":                  {ClassJobPermanent, waitNone},
	"FailedOperation.SignatureIncorrectOrUnapproved":                 {ClassJobPermanent, waitNone},
	"FailedOperation.ContainSensitiveWord":                           {ClassJobPermanent, waitNone},
	"FailedOperation.TemplateParamSetNotMatchApprovedTemplate":       {ClassJobPermanent, waitNone},
	"FailedOperation.TemplateUnapprovedOrNotExist":                   {ClassJobPermanent, waitNone},
	"FailedOperation.TemplateIdNotExist":                             {ClassJobPermanent, waitNone},
	"FailedOperation.MissingSignature":                               {ClassJobPermanent, waitNone},
	"FailedOperation.MissingSignatureList":                           {ClassJobPermanent, waitNone},
	"FailedOperation.MissingTemplateList":                            {ClassJobPermanent, waitNone},
	"FailedOperation.MissingSignatureToModify":                       {ClassJobPermanent, waitNone},
	"FailedOperation.MissingTemplateToModify":                        {ClassJobPermanent, waitNone},
	"FailedOperation.SignIdNotExist":                                 {ClassJobPermanent, waitNone},
	"FailedOperation.ForbidAddMarketingTemplates":                    {ClassJobPermanent, waitNone},
	"InvalidParameterValue.ContentLengthLimit":                       {ClassJobPermanent, waitNone},
	"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter":      {ClassJobPermanent, waitNone},
	"InvalidParameterValue.TemplateParameterFormatError":             {ClassJobPermanent, waitNone},
	"InvalidParameterValue.TemplateParameterLengthLimit":             {ClassJobPermanent, waitNone},
	"InvalidParameterValue.TemplateWithDirtyWords":                   {ClassJobPermanent, waitNone},
	"InvalidParameterValue.MarketingTemplateWithoutUnsubscribe":      {ClassJobPermanent, waitNone},
	"InvalidParameterValue.InvalidTemplateFormat":                    {ClassJobPermanent, waitNone},
	"InvalidParameterValue.UnsupportedTemplateVariable":              {ClassJobPermanent, waitNone},
	"InvalidParameterValue.SignNameLengthTooLong":                    {ClassJobPermanent, waitNone},
	"InvalidParameter.DirtyWordFound":                                {ClassJobPermanent, waitNone},
	"UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": {ClassJobPermanent, waitNone},

	// Per-number permanent.
	"InvalidParameterValue.IncorrectPhoneNumber":                {ClassNumberPermanent, waitNone},
	CodePhoneNumberInBlacklist:                                  {ClassNumberPermanent, waitNone},
	"FailedOperation.PhoneNumberParseFail":                      {ClassNumberPermanent, waitNone},
	"UnsupportedOperation.UnsuportedRegion":                     {ClassNumberPermanent, waitNone}, // doc spelling (sic)
	"UnsupportedOperation.UnsupportedRegion":                    {ClassNumberPermanent, waitNone}, // SDK spelling
	"UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": {ClassNumberPermanent, waitNone},
	"UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": {ClassNumberPermanent, waitNone},
	"LimitExceeded.AppCountryOrRegionInBlacklist":               {ClassNumberPermanent, waitNone}, // country not allowed for the app

	// Per-number retry-after.
	"LimitExceeded.PhoneNumberThirtySecondLimit":     {ClassNumberRetryAfter, waitThirtySecond},
	"LimitExceeded.PhoneNumberOneHourLimit":          {ClassNumberRetryAfter, waitOneHour},
	"LimitExceeded.DeliveryFrequencyLimit":           {ClassNumberRetryAfter, waitFrequency},
	"LimitExceeded.PhoneNumberDailyLimit":            {ClassNumberRetryAfter, waitNumberDaily},
	"LimitExceeded.PhoneNumberSameContentDailyLimit": {ClassNumberRetryAfter, waitNumberDaily},

	// Request-shape bugs: never retried, they settle the numbers.
	"LimitExceeded.PhoneNumberCountLimit":                             {ClassRequestShape, waitNone},
	"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": {ClassRequestShape, waitNone},
	"UnsupportedOperation":                                            {ClassRequestShape, waitNone},
	"MissingParameter":                                                {ClassRequestShape, waitNone},
	"MissingParameter.EmptyPhoneNumberSet":                            {ClassRequestShape, waitNone},
	"FailedOperation.FailResolvePacket":                               {ClassRequestShape, waitNone},
	"FailedOperation.JsonParseFail":                                   {ClassRequestShape, waitNone},
	"FailedOperation.OtherError":                                      {ClassRequestShape, waitNone}, // "usually parameters that do not meet the requirements"
	"FailedOperation.ParametersOtherError":                            {ClassRequestShape, waitNone},
	"InternalError.JsonParseFail":                                     {ClassRequestShape, waitNone}, // our parameters did not parse: not sent
	"InternalError.RestApiInterfaceNotExist":                          {ClassRequestShape, waitNone},
	"InvalidParameter":                                                {ClassRequestShape, waitNone},
	"InvalidParameter.InvalidParameters":                              {ClassRequestShape, waitNone},
	"InvalidParameterValue":                                           {ClassRequestShape, waitNone},
	// Codes of the template, signature and status APIs that SendSms does not
	// return; should one appear, the request was not what we meant to send.
	"FailedOperation.NotEnterpriseCertification":    {ClassRequestShape, waitNone},
	"FailedOperation.QualificationIdNotApproved":    {ClassRequestShape, waitNone},
	"FailedOperation.SignNumberLimit":               {ClassRequestShape, waitNone},
	"FailedOperation.TemplateNumberLimit":           {ClassRequestShape, waitNone},
	"FailedOperation.TemplateAlreadyPassedCheck":    {ClassRequestShape, waitNone},
	"InvalidParameterValue.BeginTimeVerifyFail":     {ClassRequestShape, waitNone},
	"InvalidParameterValue.EndTimeVerifyFail":       {ClassRequestShape, waitNone},
	"InvalidParameterValue.ImageInvalid":            {ClassRequestShape, waitNone},
	"InvalidParameterValue.InvalidDocumentType":     {ClassRequestShape, waitNone},
	"InvalidParameterValue.InvalidInternational":    {ClassRequestShape, waitNone},
	"InvalidParameterValue.InvalidSignPurpose":      {ClassRequestShape, waitNone},
	"InvalidParameterValue.InvalidSmsType":          {ClassRequestShape, waitNone},
	"InvalidParameterValue.InvalidStartTime":        {ClassRequestShape, waitNone},
	"InvalidParameterValue.InvalidUsedMethod":       {ClassRequestShape, waitNone},
	"InvalidParameterValue.LimitVerifyFail":         {ClassRequestShape, waitNone},
	"InvalidParameterValue.OffsetVerifyFail":        {ClassRequestShape, waitNone},
	"InvalidParameterValue.QualificationIdNotFound": {ClassRequestShape, waitNone},
	"InvalidParameterValue.SignAlreadyPassedCheck":  {ClassRequestShape, waitNone},
	"InvalidParameterValue.SignExistAndUnapproved":  {ClassRequestShape, waitNone},
	// Common codes [T8] that say the request itself is wrong.
	"ActionOffline":                {ClassRequestShape, waitNone},
	"DryRunOperation":              {ClassRequestShape, waitNone},
	"InvalidAction":                {ClassRequestShape, waitNone},
	"InvalidRequest":               {ClassRequestShape, waitNone},
	"NoSuchProduct":                {ClassRequestShape, waitNone},
	"NoSuchVersion":                {ClassRequestShape, waitNone},
	"RequestSizeLimitExceeded":     {ClassRequestShape, waitNone},
	"UnknownParameter":             {ClassRequestShape, waitNone},
	"UnsupportedProtocol":          {ClassRequestShape, waitNone},
	"UnsupportedRegion":            {ClassRequestShape, waitNone}, // the endpoint's region, not the number's
	"ClientError.InvalidParameter": {ClassRequestShape, waitNone}, // SDK: refused before sending

	// Clock skew: the request was refused; fix the clock and retry.
	"AuthFailure.SignatureExpire":        {ClassClock, waitNone},
	"InternalError.RequestTimeException": {ClassClock, waitNone},

	// Transient, not accepted.
	"RequestLimitExceeded":                              {ClassTransient, waitNone},
	"RequestLimitExceeded.GlobalRegionUinLimitExceeded": {ClassTransient, waitNone},
	"RequestLimitExceeded.IPLimitExceeded":              {ClassTransient, waitNone},
	"RequestLimitExceeded.UinLimitExceeded":             {ClassTransient, waitNone},
	"ClientError.CircuitBreakerError":                   {ClassTransient, waitNone}, // SDK breaker refused: not sent
	CodeTransportNotSent:                                {ClassTransient, waitNone},

	// Unknown outcome: reconcile before any resend.
	"InternalError":                          {ClassUnknownOutcome, waitNone},
	"InternalError.Timeout":                  {ClassUnknownOutcome, waitNone},
	"InternalError.SendAndRecvFail":          {ClassUnknownOutcome, waitNone},
	"InternalError.OtherError":               {ClassUnknownOutcome, waitNone},
	"InternalError.UnknownError":             {ClassUnknownOutcome, waitNone},
	"InternalError.ParseBackendResponseFail": {ClassUnknownOutcome, waitNone}, // the carrier's reply did not parse: it was sent on
	"ServiceUnavailable":                     {ClassUnknownOutcome, waitNone},
	"ResponseSizeLimitExceeded":              {ClassUnknownOutcome, waitNone}, // processed, reply too large
	"ClientError.NetworkError":               {ClassUnknownOutcome, waitNone}, // SDK folds every transport failure here
	"ClientError.IOError":                    {ClassUnknownOutcome, waitNone}, // reading the reply failed
	"ClientError.HttpStatusCodeError":        {ClassUnknownOutcome, waitNone}, // non-200 reply, e.g. a gateway 502
	"ClientError.ParseJsonError":             {ClassUnknownOutcome, waitNone},
	"ClientError.TypeError":                  {ClassUnknownOutcome, waitNone},
	CodeTransportUnknown:                     {ClassUnknownOutcome, waitNone},
}

// prefixes classify codes that are not in table by their family. Families
// whose meaning is clear whatever the sub-code are listed; any other code is
// ClassUnlisted.
var prefixes = []struct {
	prefix string
	class  Class
}{
	{"AuthFailure.", ClassAppHalt},
	{"RequestLimitExceeded.", ClassTransient},
	{"InternalError.", ClassUnknownOutcome}, // may have been sent: the safe reading
	{"ClientError.", ClassUnknownOutcome},
	{"InvalidParameter.", ClassRequestShape},
	{"InvalidParameterValue.", ClassRequestShape},
	{"MissingParameter.", ClassRequestShape},
}

// folded indexes table by lower-cased code, for codes whose case differs.
var folded = func() map[string]string {
	m := make(map[string]string, len(table))
	for code := range table {
		m[strings.ToLower(code)] = code
	}
	return m
}()

// lookup returns the canonical spelling of code and its rule.
func lookup(code string) (string, rule) {
	if r, ok := table[code]; ok {
		return code, r
	}
	trimmed := strings.TrimSpace(code)
	if canon, ok := folded[strings.ToLower(trimmed)]; ok {
		return canon, table[canon]
	}
	for _, p := range prefixes {
		if len(trimmed) > len(p.prefix) && strings.EqualFold(trimmed[:len(p.prefix)], p.prefix) {
			return trimmed, rule{p.class, waitNone}
		}
	}
	return trimmed, rule{ClassUnlisted, waitNone}
}

// Classify returns the class of a Tencent error code, call-level or
// per-number. "" and "Ok" are ClassOK; a code the table does not know is
// ClassUnlisted.
func Classify(code string) Class {
	if strings.TrimSpace(code) == "" {
		return ClassOK
	}
	_, r := lookup(code)
	return r.class
}
