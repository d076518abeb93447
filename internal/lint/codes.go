package lint

// Diagnostic codes: MTS1xx are errors, MTS2xx warnings, MTS3xx information.
// A code keeps its meaning once published.
const (
	CodeSyntax  = "MTS101" // the file is not valid YAML
	CodeLoad    = "MTS102" // the loader refuses a rule definition
	CodePattern = "MTS103" // a pattern cannot be used
	CodeCEL     = "MTS104" // a CEL expression does not compile
	CodeKojiTag = "MTS105" // a literal destination tag is not in Koji
	CodeLoop    = "MTS106" // rules on tag events tag back into each other's trigger

	CodeScratch        = "MTS201" // scratch is ignored
	CodeCatchAll       = "MTS202" // a rule matches every build by mistake
	CodeUnreachable    = "MTS203" // an earlier rule matches every build
	CodeDuplicate      = "MTS204" // an earlier rule has the same criteria
	CodeShadowed       = "MTS205" // an earlier, less specific rule wins
	CodeNever          = "MTS206" // a criterion can never hold
	CodeUnknownGroup   = "MTS207" // \g<name> without such a group
	CodeOptionalGroup  = "MTS208" // a named group may not take part
	CodePartialGroup   = "MTS209" // a group only some alternatives capture
	CodeDuplicateDest  = "MTS210" // a group captured in several places
	CodeStrayState     = "MTS211" // build_state outside rule
	CodeUnknownKey     = "MTS212" // unknown definition key
	CodeType           = "MTS213" // type is not module
	CodeDuplicateID    = "MTS214" // the id is used twice
	CodeCost           = "MTS215" // estimated cost above the threshold
	CodeUnknownState   = "MTS216" // a build state MBS does not have
	CodeBadDestination = "MTS217" // a destination that cannot be a tag name
	CodeRepeatedKey    = "MTS218" // a key given twice in one mapping
	CodeOwnTagging     = "MTS219" // a rule on tag events reacts to its own tagging
	CodeEventField     = "MTS220" // a field build or event lacks, or the kinds never set

	CodeUnanchored = "MTS301" // a pattern searched anywhere in the value
	CodeListGroup  = "MTS302" // a group matched against list elements
)

// CodeInfo describes a diagnostic code.
type CodeInfo struct {
	Code     string
	Severity Severity
	Name     string
	Summary  string
}

// Codes lists every diagnostic code, for documentation and SARIF rule
// descriptors.
func Codes() []CodeInfo {
	return []CodeInfo{
		{CodeSyntax, Error, "yaml-syntax", "The file is not valid YAML."},
		{CodeLoad, Error, "refused", "The loader refuses a rule definition (missing id, type or destinations, wrong value types, unknown keys of a CEL file, duplicate CEL ids)."},
		{CodePattern, Error, "unusable-pattern", "A pattern is invalid or needs a Python regex feature RE2 lacks."},
		{CodeCEL, Error, "cel-compile", "A CEL expression does not compile or has the wrong type."},
		{CodeKojiTag, Error, "koji-tag-missing", "A literal destination tag does not exist in Koji (--koji-profile)."},
		{CodeLoop, Error, "tagging-loop", "Rules on build.tag or build.untag events tag (or untag) into tags that trigger each other: mts's own tagging comes back as events, so a build would go round forever."},
		{CodeScratch, Warning, "scratch-ignored", "`scratch` in a rule is ignored since the format dropped it."},
		{CodeCatchAll, Warning, "accidental-catch-all", "A rule whose criteria are all ignored matches every build of its state."},
		{CodeUnreachable, Warning, "unreachable", "An earlier rule of the same state matches every build, so this rule never matches."},
		{CodeDuplicate, Warning, "duplicate-rule", "An earlier rule of the same state has the same criteria, so this rule never matches."},
		{CodeShadowed, Warning, "shadowed", "An earlier rule of the same state has a subset of this rule's criteria, so this rule never matches."},
		{CodeNever, Warning, "never-matches", "A criterion can never hold: a key modulemd never has, an empty pattern list, or a value of the wrong type."},
		{CodeUnknownGroup, Warning, "unknown-group", "The destinations name a group no pattern of the rule has; it stays literal."},
		{CodeOptionalGroup, Warning, "optional-group", "A named group may not take part in a match, which is an evaluation error."},
		{CodePartialGroup, Warning, "partial-group", "Only some patterns of a pattern list capture a group: when another one matches, the group reference stays literal."},
		{CodeDuplicateDest, Warning, "duplicate-destinations", "The same group is captured in several places, so destinations expand to duplicates."},
		{CodeStrayState, Warning, "stray-build-state", "build_state outside `rule` is ignored."},
		{CodeUnknownKey, Warning, "unknown-key", "A rule definition key other than id, description, type, rule and destinations is ignored."},
		{CodeType, Warning, "type", "A rule's type is not `module`."},
		{CodeDuplicateID, Warning, "duplicate-id", "Two rules share an id, so logs and decisions cannot tell them apart."},
		{CodeCost, Warning, "cost", "The rule's estimated CEL cost is above the threshold (--max-cost)."},
		{CodeUnknownState, Warning, "unknown-state", "A rule's build state is not one MBS announces, so the rule never fires."},
		{CodeBadDestination, Warning, "bad-destination", "A destination can never be a Koji tag name, so tagging into it always fails."},
		{CodeRepeatedKey, Warning, "repeated-key", "A key is given twice in one mapping: only the last value counts."},
		{CodeOwnTagging, Warning, "own-tagging", "A rule on build.tag (or build.untag) events reacts to any tag, so the events of its own literal destinations (or untags) come back to it."},
		{CodeEventField, Warning, "koji-field", "A rule on Koji's events reads a field build or event does not have (an evaluation error), or one its file's kinds never set (always empty)."},
		{CodeUnanchored, Info, "unanchored", "A pattern has neither ^ nor $: it is searched anywhere in the value."},
		{CodeListGroup, Info, "list-group", "A named group is matched against every element of a list: one destination per element."},
	}
}
