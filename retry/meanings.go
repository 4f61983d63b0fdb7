package retry

// meanings are one-line explanations of the codes operators meet most in a job's failed_by_code
// (enqueue status prints them beside the counts). A code not listed here is explained by its
// class (see Meaning).
var meanings = map[string]string{
	// Account and app halts.
	"FailedOperation.InsufficientBalanceInSmsPackage":  "the SMS package balance is used up: top up, then enqueue resume",
	"UnauthorizedOperation.SerivceSuspendDueToArrears": "the account is suspended for arrears: pay, then enqueue resume",
	"UnauthorizedOperation.ServiceSuspendDueToArrears": "the account is suspended for arrears: pay, then enqueue resume",
	"UnauthorizedOperation.SdkAppIdIsDisabled":         "the SmsSdkAppId is disabled in the console",
	"UnauthorizedOperation.SmsSdkAppIdVerifyFail":      "the SmsSdkAppId does not belong to these credentials",
	"UnauthorizedOperation.RequestIpNotInWhitelist":    "the worker's IP is not in the app's whitelist",
	"UnauthorizedOperation.RequestPermissionDeny":      "the credentials may not call SendSms (CAM policy)",
	"AuthFailure.SecretIdNotFound":                     "the SecretId does not exist (check TENCENTCLOUD_SECRET_ID)",
	"AuthFailure.SignatureFailure":                     "the request signature is wrong (check the SecretKey)",
	CodeSdkAppIdNotExist:                               "the SmsSdkAppId of the job does not exist",

	// Halts until a time of day.
	"LimitExceeded.AppDailyLimit":                 "the app's daily cap (console) is reached: sending resumes the next day",
	"LimitExceeded.DailyLimit":                    "the international daily cap is reached: sending resumes the next day",
	"FailedOperation.MarketingSendTimeConstraint": "marketing SMS may only be sent 08:00-22:00 Beijing time",

	// Template, sign and content.
	"FailedOperation.TemplateIncorrectOrUnapproved":             "the template does not exist or is not approved",
	"FailedOperation.TemplateUnapprovedOrNotExist":              "the template does not exist or is not approved",
	"FailedOperation.TemplateIdNotExist":                        "the template id does not exist",
	"FailedOperation.SignatureIncorrectOrUnapproved":            "the sign name does not exist or is not approved",
	"FailedOperation.MissingSignature":                          "no approved sign for this app",
	"FailedOperation.ContainSensitiveWord":                      "the content contains a sensitive word",
	"FailedOperation.TemplateParamSetNotMatchApprovedTemplate":  "the params do not match the template's {n} placeholders",
	"InvalidParameterValue.TemplateParameterFormatError":        "a param has the wrong format (otp params: 0-6 digits)",
	"InvalidParameterValue.TemplateParameterLengthLimit":        "a param is too long (12 characters for individual accounts)",
	"InvalidParameterValue.ContentLengthLimit":                  "the message is too long",
	"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "a param contains a URL, which is not allowed",

	// Numbers.
	"InvalidParameterValue.IncorrectPhoneNumber":                "the number is not a valid phone number",
	CodePhoneNumberInBlacklist:                                  "the number unsubscribed or is on a carrier do-not-disturb list",
	"FailedOperation.PhoneNumberParseFail":                      "Tencent could not parse the number",
	"UnsupportedOperation.UnsuportedRegion":                     "the number's country or region is not supported",
	"UnsupportedOperation.UnsupportedRegion":                    "the number's country or region is not supported",
	"UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": "a domestic template cannot be sent to an international number",
	"UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": "an international template cannot be sent to a +86 number",
	"LimitExceeded.PhoneNumberThirtySecondLimit":                "the same number got a message in the last 30 s",
	"LimitExceeded.PhoneNumberOneHourLimit":                     "the number's hourly limit is reached",
	"LimitExceeded.PhoneNumberDailyLimit":                       "the number's daily limit is reached (--defer-daily-limit waits instead)",
	"LimitExceeded.PhoneNumberSameContentDailyLimit":            "the number got the same content too often today",
	"LimitExceeded.DeliveryFrequencyLimit":                      "the number's frequency limit is reached",

	// Codes of our own.
	"Expired":            "not sent before the job's --expire ran out",
	CodeTransportNotSent: "the request could not reach Tencent (not sent)",
	CodeTransportUnknown: "no answer from Tencent: the outcome was reconciled",
}

// classMeanings explain a code that meanings does not list, by its class.
var classMeanings = map[Class]string{
	ClassOK:               "sent",
	ClassTransient:        "throttled or not sent: retried with backoff",
	ClassUnknownOutcome:   "Tencent's answer was lost or unclear: reconciled before any resend",
	ClassClock:            "refused for a skewed clock on the worker's host",
	ClassNumberRetryAfter: "a per-number frequency limit",
	ClassNumberPermanent:  "this number cannot be sent to",
	ClassRequestShape:     "the request was malformed (a bug: please report it)",
	ClassJobPermanent:     "the template, sign or content is refused: no number of the job can succeed",
	ClassAppHalt:          "credentials, balance or app configuration: the app is halted until resumed",
	ClassAppDeferred:      "an app-wide cap or send window: sending resumes at a known time",
	ClassUnlisted:         "a code smsdispatch does not know (see Tencent's error-code page)",
}

// Meaning is a one-line explanation of a Tencent error code (or one of smsdispatch's own, such
// as "Expired"), for operators: the code's own when it is listed, else its class's.
func Meaning(code string) string {
	if m, ok := meanings[code]; ok {
		return m
	}
	canon, r := lookup(code)
	if m, ok := meanings[canon]; ok {
		return m
	}
	return classMeanings[r.class]
}
