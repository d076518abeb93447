package history

import (
	"context"
	"sort"

	"github.com/fedora-modularity/mts/internal/decision"
)

// Why is the answer of `mts why -o json`: every decision recorded for the
// build, newest first, each with its explanation.
type Why struct {
	Build     string           `json:"build"`
	Decisions []DecisionDetail `json:"decisions"`
}

// WhyLimit bounds the decisions read per source.
const WhyLimit = 1000

// WhyFromStores gathers the decisions for build from several stores.
func WhyFromStores(ctx context.Context, stores []*Store, build string) (*Why, error) {
	w := &Why{Build: build, Decisions: []DecisionDetail{}}
	for _, s := range stores {
		ds, err := s.List(ctx, Filter{Build: build, Limit: WhyLimit})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			dd, err := s.Detail(ctx, d.ID)
			if err != nil {
				return nil, err
			}
			w.Decisions = append(w.Decisions, *dd)
		}
	}
	NewestFirst(w.Decisions)
	return w, nil
}

// NewestFirst sorts decisions from several sources, the newest first.
func NewestFirst(ds []DecisionDetail) {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Decision.Time.After(ds[j].Decision.Time) })
}

// DecisionDetail is the answer of GET /api/v1/decisions/{id}: the
// decision and its explanation, recomputed against the rules revision
// that made it (null with explain_error when that cannot be done).
type DecisionDetail struct {
	Decision     Decision              `json:"decision"`
	Explanation  *decision.Explanation `json:"explanation"`
	ExplainError string                `json:"explain_error,omitempty"`
}

// Detail reads one decision with its explanation.
func (s *Store) Detail(ctx context.Context, id int64) (*DecisionDetail, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &DecisionDetail{Decision: *d}
	x, err := s.Explain(ctx, d)
	if err != nil {
		out.ExplainError = err.Error()
	} else {
		out.Explanation = x
	}
	return out, nil
}
