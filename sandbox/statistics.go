package sandbox

import (
	"time"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

// parseHour parses Tencent's "yyyymmddhh" (China time) into an hour key.
func parseHour(v *string, name string) (int64, *apiError) {
	if v == nil || *v == "" {
		return 0, newAPIError("MissingParameter", "The parameter `"+name+"` is missing.")
	}
	t, err := time.ParseInLocation(beijing.HourLayout, *v, beijing.Time)
	if err != nil {
		code := "InvalidParameterValue.BeginTimeVerifyFail"
		if name == "EndTime" {
			code = "InvalidParameterValue.EndTimeVerifyFail"
		}
		return 0, newAPIError(code, "The parameter `"+name+"` must be yyyymmddhh.")
	}
	return hourKey(t), nil
}

func hourRange(begin, end *string) (int64, int64, *apiError) {
	b, e := parseHour(begin, "BeginTime")
	if e != nil {
		return 0, 0, e
	}
	en, e := parseHour(end, "EndTime")
	if e != nil {
		return 0, 0, e
	}
	if en < b {
		return 0, 0, newAPIError("InvalidParameterValue.EndTimeVerifyFail", "EndTime must not be before BeginTime.")
	}
	return b, en, nil
}

// sumHours adds the buckets of hours b..e inclusive. Callers hold s.mu.
func (s *Server) sumHours(b, e int64) hourStats {
	var sum hourStats
	for k, h := range s.hours {
		if k < b || k > e {
			continue
		}
		sum.requests += h.requests
		sum.success += h.success
		sum.fee += h.fee
		sum.cbSuccess += h.cbSuccess
		sum.cbFail += h.cbFail
		sum.internal += h.internal
		sum.invalidNumber += h.invalidNumber
		sum.shutdown += h.shutdown
		sum.blacklist += h.blacklist
	}
	return sum
}

// statistics checks the app and the hour range of a statistics request and sums its hours.
func (s *Server) statistics(app, begin, end *string) (hourStats, *apiError) {
	if e := s.checkApp(app); e != nil {
		return hourStats{}, e
	}
	b, en, e := hourRange(begin, end)
	if e != nil {
		return hourStats{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sumHours(b, en), nil
}

func (s *Server) handleSendStatusStatistics(body []byte, reqID string, _ time.Time) (any, *apiError) {
	var req sms.SendStatusStatisticsRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	sum, e := s.statistics(req.SmsSdkAppId, req.BeginTime, req.EndTime)
	if e != nil {
		return nil, e
	}
	return &sms.SendStatusStatisticsResponseParams{
		SendStatusStatistics: &sms.SendStatusStatistics{
			FeeCount:            ptr(sum.fee),
			RequestCount:        ptr(sum.requests),
			RequestSuccessCount: ptr(sum.success),
		},
		RequestId: ptr(reqID),
	}, nil
}

func (s *Server) handleCallbackStatusStatistics(body []byte, reqID string, _ time.Time) (any, *apiError) {
	var req sms.CallbackStatusStatisticsRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	sum, e := s.statistics(req.SmsSdkAppId, req.BeginTime, req.EndTime)
	if e != nil {
		return nil, e
	}
	return &sms.CallbackStatusStatisticsResponseParams{
		CallbackStatusStatistics: &sms.CallbackStatusStatistics{
			CallbackCount:        ptr(sum.cbSuccess + sum.cbFail),
			RequestSuccessCount:  ptr(sum.success),
			CallbackFailCount:    ptr(sum.cbFail),
			CallbackSuccessCount: ptr(sum.cbSuccess),
			InternalErrorCount:   ptr(sum.internal),
			InvalidNumberCount:   ptr(sum.invalidNumber),
			ShutdownErrorCount:   ptr(sum.shutdown),
			BlackListCount:       ptr(sum.blacklist),
			FrequencyLimitCount:  ptr(uint64(0)),
		},
		RequestId: ptr(reqID),
	}, nil
}

// The sandbox has one purchased package, created a day before the server started.
const packageID = 100001

func (s *Server) handleSmsPackagesStatistics(body []byte, reqID string, _ time.Time) (any, *apiError) {
	var req sms.SmsPackagesStatisticsRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	if e := s.checkApp(req.SmsSdkAppId); e != nil {
		return nil, e
	}
	limit, e := limitParam(req.Limit, 500)
	if e != nil {
		return nil, e
	}
	b, en, e := hourRange(req.BeginTime, req.EndTime)
	if e != nil {
		return nil, e
	}
	created := s.started.Add(-24 * time.Hour)
	var offset uint64
	if req.Offset != nil {
		offset = *req.Offset
	}
	out := []*sms.SmsPackagesStatistics{}
	if k := hourKey(created); k >= b && k <= en && offset == 0 && limit > 0 {
		s.mu.Lock()
		used := s.feeUsed
		s.mu.Unlock()
		out = append(out, &sms.SmsPackagesStatistics{
			PackageCreateTime:    ptr(uint64(created.Unix())),
			PackageEffectiveTime: ptr(uint64(created.Unix())),
			PackageExpiredTime:   ptr(uint64(created.AddDate(1, 0, 0).Unix())),
			PackageAmount:        ptr(s.cfg.PackageAmount),
			PackageType:          ptr(uint64(1)),
			PackageId:            ptr(uint64(packageID)),
			CurrentUsage:         ptr(used),
		})
	}
	return &sms.SmsPackagesStatisticsResponseParams{SmsPackagesStatisticsSet: out, RequestId: ptr(reqID)}, nil
}
