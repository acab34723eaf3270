package lsf

import "testing"

func TestParallel_MoreThanOneSlot(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"no variables", map[string]string{}, false},
		{"one slot", map[string]string{"LSB_MCPU_HOSTS": "h1 1", "LSB_DJOB_NUMPROC": "1"}, false},
		{"several slots on one host", map[string]string{"LSB_MCPU_HOSTS": "h1 4"}, true},
		{"one slot on each of two hosts", map[string]string{"LSB_MCPU_HOSTS": "h1 1 h2 1"}, true},
		{"LSB_DJOB_NUMPROC", map[string]string{"LSB_DJOB_NUMPROC": "8"}, true},
		{"malformed host list", map[string]string{"LSB_MCPU_HOSTS": "h1 x h2 3"}, false},
	} {
		if got := Parallel(tc.env); got != tc.want {
			t.Errorf("%s: Parallel = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestJobKey_NamesTheJobOrRefuses(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    string
		refused bool
	}{
		{map[string]string{"LSB_JOBID": "4242"}, "job.4242.0", false},
		{map[string]string{"LSB_JOBID": "4242", "LSB_JOBINDEX": "7"}, "job.4242.7", false},
		{map[string]string{"LSB_JOBID": "4242", "LSB_EXEC_CLUSTER": "ris"}, "ris.job.4242.0", false},
		{map[string]string{}, "", true},
		{map[string]string{"LSB_JOBID": "../4242"}, "", true},
		{map[string]string{"LSB_JOBID": "1", "LSB_JOBINDEX": "1/.."}, "", true},
		{map[string]string{"LSB_JOBID": "1", "LSB_EXEC_CLUSTER": "../x"}, "", true},
	} {
		got, err := JobKey(tc.env)
		if got != tc.want || (err != nil) != tc.refused {
			t.Errorf("%v: got %q, %v", tc.env, got, err)
		}
	}
}
