"""Lifecycle (issue 7): bucket lifecycle configuration (PUT/GET/DELETE ?lifecycle) in the WOS and S3
forms, Archive objects and RestoreObject, the background lifecycle worker, and storage tiers.

Lifecycle days are shortened with --lifecycle-day-seconds so transitions and expirations happen
within seconds; tests poll with deadlines instead of sleeping."""
import base64
import datetime
import email.utils
import hashlib
import os
import sqlite3
import time

import pytest
from botocore.exceptions import ClientError

import wos_client as wc
from conftest import make_bucket_name, payload
from helpers import assert_error, assert_ok, expect_client_error, norm_class


def _md5(body):
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def put_lc(c, bucket, xml, md5=True, extra=None):
    body = xml.encode() if isinstance(xml, str) else xml
    headers = [("Content-Type", "application/xml")]
    if md5:
        headers.append(("Content-MD5", _md5(body)))
    headers += list(extra or [])
    return c.request("PUT", wc.key_path(bucket), "lifecycle", headers, body)


WOS_DOC = """<LifecycleConfiguration xmlns="https://www.wangsu.com/document">
  <Rule>
    <ID>id</ID>
    <Filter><Prefix>photos/</Prefix></Filter>
    <Status>Enabled</Status>
    <Expiration><Days>365</Days></Expiration>
    <Transition><Days>30</Days><StorageClass>IA</StorageClass></Transition>
  </Rule>
</LifecycleConfiguration>"""


def rule_xml(body, rid="r", status="Enabled", filt="<Filter><Prefix>p/</Prefix></Filter>"):
    return ("<LifecycleConfiguration><Rule><ID>%s</ID>%s<Status>%s</Status>%s</Rule></LifecycleConfiguration>"
            % (rid, filt, status, body))


MIN_SIZE = "transition-default-minimum-object-size"   # x-amz- / x-wos- header suffix


def put_lc_boto(s3, bucket, rules, min_size=None):
    """PutBucketLifecycleConfiguration with TransitionDefaultMinimumObjectSize when given. Debian's
    botocore (1.29) predates the parameter, so the header goes in before signing; returns the
    response headers."""
    def add_header(request, **kw):
        request.headers["x-amz-" + MIN_SIZE] = min_size
    if min_size is not None:
        s3.meta.events.register("before-sign.s3.PutBucketLifecycleConfiguration", add_header)
    try:
        r = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    finally:
        if min_size is not None:
            s3.meta.events.unregister("before-sign.s3.PutBucketLifecycleConfiguration", add_header)
    return r["ResponseMetadata"]["HTTPHeaders"]


def get_min_size_boto(s3, bucket):
    r = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    return r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-" + MIN_SIZE)


# ------------------------------------------------------------------------------ configuration


def test_wos_document_round_trip(server):
    c = server.client("wos4")
    b = make_bucket_name("lc-wos")
    assert_ok(c.create_bucket(b))
    assert_error(c.get(b, query="lifecycle"), 404, "NoSuchLifecycleConfiguration")
    assert_ok(put_lc(c, b, WOS_DOC))
    r = assert_ok(c.get(b, query="lifecycle"))
    doc = r.xml()
    assert wc.ns_of(doc) == wc.WOS_NS
    rules = wc.xfindall(doc, "Rule")
    assert len(rules) == 1
    rule = rules[0]
    assert wc.xtext(rule, "ID") == "id"
    assert wc.xtext(rule, "Filter/Prefix") == "photos/"
    assert wc.xtext(rule, "Status") == "Enabled"
    assert wc.xtext(rule, "Expiration/Days") == "365"
    assert wc.xtext(rule, "Transition/Days") == "30"
    assert wc.xtext(rule, "Transition/StorageClass") == "IA"
    # the same rules read back by an S3 client, in the S3 namespace
    s3 = server.boto()
    got = s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert got == [{"ID": "id", "Filter": {"Prefix": "photos/"}, "Status": "Enabled",
                    "Transitions": [{"Days": 30, "StorageClass": "IA"}], "Expiration": {"Days": 365}}]
    r = assert_ok(server.client("aws4").get(b, query="lifecycle"))
    assert wc.ns_of(r.xml()) == wc.S3_NS
    r = c.delete(b, query="lifecycle")
    assert r.status == 204, r
    assert_error(c.get(b, query="lifecycle"), 404, "NoSuchLifecycleConfiguration")
    # deleting again succeeds, as in S3
    assert c.delete(b, query="lifecycle").status == 204


def test_boto3_every_element(s3, bucket):
    rules = [
        {"ID": "exp-days", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 7}},
        {"ID": "exp-date", "Filter": {"Prefix": ""}, "Status": "Disabled",
         "Expiration": {"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)}},
        {"ID": "tiers", "Filter": {"Prefix": "data/"}, "Status": "Enabled",
         "Transitions": [{"Days": 10, "StorageClass": "IA"}, {"Days": 40, "StorageClass": "Archive"}],
         "Expiration": {"Days": 400}},
        {"ID": "mpu", "Filter": {}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
        {"ID": "legacy", "Prefix": "old/", "Status": "Enabled",
         "Transitions": [{"Date": datetime.datetime(2031, 6, 1, tzinfo=datetime.timezone.utc), "StorageClass": "GLACIER"}]},
        {"ID": "nc", "Filter": {"Prefix": "v/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 5},
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 2, "StorageClass": "STANDARD_IA"}]},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(got) == {r["ID"] for r in rules}
    assert got["exp-days"]["Expiration"] == {"Days": 7}
    assert got["exp-date"]["Status"] == "Disabled"
    assert got["exp-date"]["Expiration"]["Date"] == datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    assert got["tiers"]["Transitions"] == [{"Days": 10, "StorageClass": "IA"}, {"Days": 40, "StorageClass": "Archive"}]
    assert got["mpu"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert got["mpu"]["Filter"] == {}
    assert got["legacy"]["Prefix"] == "old/" and "Filter" not in got["legacy"]
    assert got["legacy"]["Transitions"][0]["StorageClass"] == "Archive"
    assert got["nc"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5}
    assert got["nc"]["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 2, "StorageClass": "IA"}]
    # a PUT replaces the whole configuration
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules[:1]})
    assert [r["ID"] for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]] == ["exp-days"]
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert ei.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def test_rule_without_id_gets_one(server, bucket):
    c = server.client("aws4")
    assert_ok(put_lc(c, bucket, "<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status>"
                                "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"))
    r = assert_ok(c.get(bucket, query="lifecycle"))
    rid = wc.xtext(r.xml(), "Rule/ID")
    assert rid and len(rid) <= 255


BAD = [
    ("not xml", "<LifecycleConfiguration><Rule>", 400, "MalformedXML"),
    ("wrong root", "<Lifecycle><Rule/></Lifecycle>", 400, "MalformedXML"),
    ("no rules", "<LifecycleConfiguration></LifecycleConfiguration>", 400, "MalformedXML"),
    ("no status", "<LifecycleConfiguration><Rule><ID>a</ID><Filter/><Expiration><Days>1</Days></Expiration>"
                  "</Rule></LifecycleConfiguration>", 400, "MalformedXML"),
    ("bad status", rule_xml("<Expiration><Days>1</Days></Expiration>", status="On"), 400, "MalformedXML"),
    ("filter and prefix", rule_xml("<Expiration><Days>1</Days></Expiration>",
                                   filt="<Filter><Prefix>a</Prefix></Filter><Prefix>a</Prefix>"), 400, "MalformedXML"),
    ("neither filter nor prefix", rule_xml("<Expiration><Days>1</Days></Expiration>", filt=""), 400, "MalformedXML"),
    ("unknown element", rule_xml("<Expiration><Days>1</Days></Expiration><Colour>red</Colour>"), 400, "MalformedXML"),
    ("no action", rule_xml(""), 400, "InvalidRequest"),
    ("zero days", rule_xml("<Expiration><Days>0</Days></Expiration>"), 400, "InvalidArgument"),
    ("negative days", rule_xml("<Expiration><Days>-3</Days></Expiration>"), 400, "InvalidArgument"),
    ("text days", rule_xml("<Expiration><Days>ten</Days></Expiration>"), 400, "InvalidArgument"),
    ("days and date", rule_xml("<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"),
     400, "MalformedXML"),
    ("date not midnight", rule_xml("<Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>"), 400,
     "InvalidArgument"),
    ("bad class", rule_xml("<Transition><Days>1</Days><StorageClass>COLD</StorageClass></Transition>"), 400,
     "InvalidStorageClass"),
    ("to standard", rule_xml("<Transition><Days>1</Days><StorageClass>Standard</StorageClass></Transition>"), 400,
     "InvalidArgument"),
    ("expire before transition", rule_xml("<Expiration><Days>5</Days></Expiration>"
                                          "<Transition><Days>10</Days><StorageClass>IA</StorageClass></Transition>"),
     400, "InvalidArgument"),
    ("abort zero", rule_xml("<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation>"
                            "</AbortIncompleteMultipartUpload>"), 400, "InvalidArgument"),
    ("long id", rule_xml("<Expiration><Days>1</Days></Expiration>", rid="x" * 256), 400, "InvalidArgument"),
    ("tag without value", rule_xml("<Expiration><Days>1</Days></Expiration>",
                                   filt="<Filter><Tag><Key>k</Key></Tag></Filter>"), 400, "MalformedXML"),
    ("two tags without And", rule_xml("<Expiration><Days>1</Days></Expiration>",
                                      filt="<Filter><Tag><Key>k</Key><Value>v</Value></Tag>"
                                           "<Tag><Key>j</Key><Value>v</Value></Tag></Filter>"), 400, "MalformedXML"),
    ("tag key twice", rule_xml("<Expiration><Days>1</Days></Expiration>",
                               filt="<Filter><And><Tag><Key>k</Key><Value>v</Value></Tag>"
                                    "<Tag><Key>k</Key><Value>w</Value></Tag></And></Filter>"), 400, "InvalidRequest"),
    ("abort with a tag", rule_xml("<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                                  "</AbortIncompleteMultipartUpload>",
                                  filt="<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"), 400,
     "InvalidRequest"),
    # size filters (S3's answers: MalformedXML for a shape its schema refuses, InvalidRequest for a value)
    ("prefix and size without And", rule_xml("<Expiration><Days>1</Days></Expiration>",
                                             filt="<Filter><Prefix>a</Prefix><ObjectSizeGreaterThan>1"
                                                  "</ObjectSizeGreaterThan></Filter>"), 400, "MalformedXML"),
    ("two sizes without And", rule_xml("<Expiration><Days>1</Days></Expiration>",
                                       filt="<Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
                                            "<ObjectSizeLessThan>9</ObjectSizeLessThan></Filter>"), 400, "MalformedXML"),
    ("And of one", rule_xml("<Expiration><Days>1</Days></Expiration>",
                            filt="<Filter><And><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>"),
     400, "MalformedXML"),
    ("size not a number", rule_xml("<Expiration><Days>1</Days></Expiration>",
                                   filt="<Filter><ObjectSizeGreaterThan>big</ObjectSizeGreaterThan></Filter>"),
     400, "MalformedXML"),
    ("duplicate ids", "<LifecycleConfiguration>" + 2 * ("<Rule><ID>same</ID><Filter/><Status>Enabled</Status>"
                                                         "<Expiration><Days>1</Days></Expiration></Rule>")
     + "</LifecycleConfiguration>", 400, "InvalidArgument"),
]


@pytest.mark.parametrize("name,doc,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_configurations_refused(server, bucket, name, doc, status, code):
    c = server.client("aws4")
    assert_error(put_lc(c, bucket, doc), status, code)
    assert_error(c.get(bucket, query="lifecycle"), 404, "NoSuchLifecycleConfiguration")


SIZE_REFUSED = [
    ("less than zero", "<Filter><ObjectSizeLessThan>0</ObjectSizeLessThan></Filter>",
     "<Expiration><Days>1</Days></Expiration>",
     "'ObjectSizeLessThan' should be between 1 and 1099511627776000."),
    ("greater than negative", "<Filter><ObjectSizeGreaterThan>-1</ObjectSizeGreaterThan></Filter>",
     "<Expiration><Days>1</Days></Expiration>",
     "'ObjectSizeGreaterThan' should be between 0 and 1099511627776000."),
    ("empty range", "<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>"
                    "<ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>",
     "<Expiration><Days>1</Days></Expiration>",
     "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."),
    ("abort with size", "<Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter>",
     "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
     "AbortIncompleteMultipartUpload cannot be specified with Object Size."),
    ("delete marker with size", "<Filter><And><Prefix>p/</Prefix><ObjectSizeLessThan>10</ObjectSizeLessThan></And>"
                                "</Filter>",
     "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
     "ExpiredObjectDeleteMarker cannot be specified with Object Size."),
]


@pytest.mark.parametrize("name,filt,actions,message", SIZE_REFUSED, ids=[c[0] for c in SIZE_REFUSED])
def test_size_filter_values_refused(server, bucket, name, filt, actions, message):
    c = server.client("aws4")
    assert_error(put_lc(c, bucket, rule_xml(actions, filt=filt)), 400, "InvalidRequest", message=message)
    assert_error(c.get(bucket, query="lifecycle"), 404, "NoSuchLifecycleConfiguration")


def test_boto3_size_filters(s3, bucket):
    rules = [
        {"ID": "gt", "Filter": {"ObjectSizeGreaterThan": 1048576}, "Status": "Enabled",
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
        {"ID": "lt", "Filter": {"ObjectSizeLessThan": 1}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "and", "Filter": {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 100,
                                         "ObjectSizeLessThan": 1099511627776000}},
         "Status": "Enabled", "Expiration": {"Days": 7}},
        {"ID": "sizes", "Filter": {"And": {"ObjectSizeGreaterThan": 0, "ObjectSizeLessThan": 500}},
         "Status": "Disabled", "Expiration": {"Days": 3}},
        {"ID": "abort", "Filter": {"Prefix": "up/"}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert got["gt"]["Filter"] == {"ObjectSizeGreaterThan": 1048576}
    assert got["gt"]["Transitions"] == [{"Days": 30, "StorageClass": "IA"}]
    assert got["lt"]["Filter"] == {"ObjectSizeLessThan": 1}
    assert got["and"]["Filter"] == {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 100,
                                            "ObjectSizeLessThan": 1099511627776000}}
    assert got["sizes"]["Filter"] == {"And": {"ObjectSizeGreaterThan": 0, "ObjectSizeLessThan": 500}}
    assert got["abort"]["Filter"] == {"Prefix": "up/"}
    # an empty prefix is no condition: one size left stands alone, as the stored form writes it
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "one", "Filter": {"And": {"Prefix": "", "ObjectSizeGreaterThan": 7}}, "Status": "Enabled",
         "Expiration": {"Days": 1}}]})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["Filter"] for r in got] == [{"ObjectSizeGreaterThan": 7}]
    # S3 refuses an abort in a rule that filters by size: an upload has no size yet
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "x", "Filter": {"And": {"Prefix": "up/", "ObjectSizeLessThan": 1000}}, "Status": "Enabled",
             "Expiration": {"Days": 1}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    err = ei.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("InvalidRequest",
                                             "AbortIncompleteMultipartUpload cannot be specified with Object Size.")
    # tag filters, alone or in And (Prefix, Tags, sizes), come back as they were given
    rules = [{"ID": "t1", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled", "Expiration": {"Days": 1}},
             {"ID": "t2", "Filter": {"And": {"Prefix": "p/", "Tags": [{"Key": "k", "Value": "v"}, {"Key": "a b", "Value": ""}],
                                             "ObjectSizeGreaterThan": 1}}, "Status": "Enabled", "Expiration": {"Days": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [{k: r[k] for k in ("ID", "Filter", "Status", "Expiration")} for r in got] == rules


def test_rule_count_limit(server, bucket):
    c = server.client("aws4")
    one = "<Rule><ID>r%d</ID><Filter><Prefix>p%d/</Prefix></Filter><Status>Enabled</Status>" \
          "<Expiration><Days>1</Days></Expiration></Rule>"
    doc = "<LifecycleConfiguration>%s</LifecycleConfiguration>"
    assert_ok(put_lc(c, bucket, doc % "".join(one % (i, i) for i in range(1000))))
    r = assert_ok(c.get(bucket, query="lifecycle"))
    assert len(wc.xfindall(r.xml(), "Rule")) == 1000
    assert_error(put_lc(c, bucket, doc % "".join(one % (i, i) for i in range(1001))), 400, "InvalidArgument")


def test_content_md5(server, bucket):
    doc = rule_xml("<Expiration><Days>1</Days></Expiration>")
    aws = server.client("aws4")
    # S3 requires an integrity check on this body; WOS clients may leave it out
    assert_error(put_lc(aws, bucket, doc, md5=False), 400, "InvalidRequest")
    assert_error(put_lc(aws, bucket, doc, md5=False, extra=[("Content-MD5", _md5(b"other"))]), 400, "BadDigest")
    assert_error(put_lc(aws, bucket, doc, md5=False, extra=[("Content-MD5", "nonsense")]), 400, "InvalidDigest")
    wos = server.client("wos4")
    assert_error(put_lc(wos, bucket, doc, md5=False, extra=[("Content-MD5", _md5(b"other"))]), 403,
                 "SignatureDoesNotMatch")
    assert_ok(put_lc(wos, bucket, doc, md5=False))


def test_missing_bucket_and_object_level(server, bucket):
    c = server.client("aws4")
    nb = make_bucket_name("nope")
    assert_error(put_lc(c, nb, rule_xml("<Expiration><Days>1</Days></Expiration>")), 404, "NoSuchBucket")
    assert_error(c.get(nb, query="lifecycle"), 404, "NoSuchBucket")
    assert_error(c.delete(nb, query="lifecycle"), 404, "NoSuchBucket")
    assert_error(c.get(bucket, "k", query="lifecycle"), 501, "NotImplemented")


def test_rules_go_with_their_bucket(server, bucket_name):
    c = server.client("aws4")
    b = bucket_name()
    assert_ok(c.create_bucket(b))
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>1</Days></Expiration>")))
    assert c.delete(b).status == 204
    assert_ok(c.create_bucket(b))
    assert_error(c.get(b, query="lifecycle"), 404, "NoSuchLifecycleConfiguration")


def test_lifecycle_permissions(server, bucket):
    from test_iam import Admin, allow, aws_policy
    admin = Admin(server)
    arn = "arn:aws:s3:::" + bucket
    reader = admin.user(aws_policy(allow("wos:GetBucketLifecycle", arn)))
    writer = admin.user(aws_policy(allow("wos:PutBucketLifecycle", arn)))
    s3writer = admin.user(aws_policy(allow("s3:PutLifecycleConfiguration", arn)))
    doc = rule_xml("<Expiration><Days>1</Days></Expiration>")
    root = server.client("aws4")
    assert_error(put_lc(reader.raw(), bucket, doc), 403, "AccessDenied")
    assert_ok(put_lc(writer.raw(), bucket, doc))
    assert_error(writer.raw().get(bucket, query="lifecycle"), 403, "AccessDenied")
    assert_ok(reader.raw().get(bucket, query="lifecycle"))
    assert_error(reader.raw().delete(bucket, query="lifecycle"), 403, "AccessDenied")
    # DeleteBucketLifecycle is allowed by the Put action, as in S3
    assert writer.raw().delete(bucket, query="lifecycle").status == 204
    assert_ok(put_lc(root, bucket, doc))
    assert s3writer.raw().delete(bucket, query="lifecycle").status == 204


def test_transition_default_minimum_size_boto3(server_factory, bucket_name):
    """S3's TransitionDefaultMinimumObjectSize: a request header on PUT (all_storage_classes_128K when
    absent), answered as a header on PUT and GET, kept with the rules across a restart, and never in
    the document."""
    srv = server_factory("lc-minsize")
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    rules = [{"ID": "ia", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
              "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]}]
    assert put_lc_boto(s3, b, rules).get("x-amz-" + MIN_SIZE) == "all_storage_classes_128K"
    assert get_min_size_boto(s3, b) == "all_storage_classes_128K"
    assert put_lc_boto(s3, b, rules, "varies_by_storage_class").get("x-amz-" + MIN_SIZE) == "varies_by_storage_class"
    assert get_min_size_boto(s3, b) == "varies_by_storage_class"
    # only S3's two values; a refused PUT leaves the stored configuration as it was
    for bad in ("all_storage_classes_128k", "128K", "none"):
        e = expect_client_error(400, "InvalidRequest", put_lc_boto, s3, b, rules, bad)
        assert "TransitionDefaultMinimumObjectSize" in e.response["Error"]["Message"]
    assert get_min_size_boto(s3, b) == "varies_by_storage_class"
    # the document is S3's: no trace of the setting in it
    r = assert_ok(srv.client("aws4").get(b, query="lifecycle"))
    assert b"TransitionDefaultMinimumObjectSize" not in r.body and b"128K" not in r.body, r.body
    assert r.header("x-amz-" + MIN_SIZE) == "varies_by_storage_class"
    srv.restart()
    s3 = srv.boto()
    assert get_min_size_boto(s3, b) == "varies_by_storage_class"
    assert s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"] == [
        {"ID": "ia", "Filter": {"Prefix": "d/"}, "Status": "Enabled", "Transitions": [{"Days": 30, "StorageClass": "IA"}]}]
    # a new PUT without the header is back to the default
    put_lc_boto(s3, b, rules)
    assert get_min_size_boto(s3, b) == "all_storage_classes_128K"
    # rules stored by a wosd from before the setting (no attribute on the stored root) read as
    # varies_by_storage_class, S3's value for configurations made before it had the setting
    srv.stop()
    db = sqlite3.connect(os.path.join(srv.data_dir, "meta.db"))
    with db:
        (stored,) = db.execute("SELECT document FROM bucket_lifecycle WHERE bucket=?", (b,)).fetchone()
        assert ' TransitionDefaultMinimumObjectSize="all_storage_classes_128K">' in stored, stored
        old = stored.replace(' TransitionDefaultMinimumObjectSize="all_storage_classes_128K"', "")
        db.execute("UPDATE bucket_lifecycle SET document=? WHERE bucket=?", (old, b))
    db.close()
    srv.start(keep_port=True)
    s3 = srv.boto()
    assert get_min_size_boto(s3, b) == "varies_by_storage_class"
    assert s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"][0]["ID"] == "ia"


def test_transition_default_minimum_size_wos(server, bucket_name):
    """The WOS dialect's spelling: x-wos-transition-default-minimum-object-size, both ways."""
    c = server.client("wos4")
    b = bucket_name()
    assert_ok(c.create_bucket(b))
    doc = rule_xml("<Transition><Days>30</Days><StorageClass>IA</StorageClass></Transition>")
    r = assert_ok(put_lc(c, b, doc))
    assert r.header("x-wos-" + MIN_SIZE) == "all_storage_classes_128K", r
    assert r.header("x-amz-" + MIN_SIZE) is None
    assert assert_ok(c.get(b, query="lifecycle")).header("x-wos-" + MIN_SIZE) == "all_storage_classes_128K"
    r = assert_ok(put_lc(c, b, doc, extra=[("x-wos-" + MIN_SIZE, "varies_by_storage_class")]))
    assert r.header("x-wos-" + MIN_SIZE) == "varies_by_storage_class", r
    r = assert_ok(c.get(b, query="lifecycle"))
    assert r.header("x-wos-" + MIN_SIZE) == "varies_by_storage_class", r
    assert b"TransitionDefaultMinimumObjectSize" not in r.body
    assert_error(put_lc(c, b, doc, extra=[("x-wos-" + MIN_SIZE, "everything")]), 400, "InvalidRequest")
    assert c.get(b, query="lifecycle").header("x-wos-" + MIN_SIZE) == "varies_by_storage_class"


# ------------------------------------------------------------------------------ Archive and restore

RESTORE_DELAY = 0.6   # --archive-restore-delay
DAY = 1.5             # --lifecycle-day-seconds


@pytest.fixture(scope="module")
def arch_server():
    from conftest import WosdServer
    s = WosdServer("archive", extra_args=("--archive-restore-delay", str(RESTORE_DELAY),
                                          "--lifecycle-day-seconds", str(DAY)))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def restore(c, bucket, key, days=1, body=None):
    body = body if body is not None else b"<RestoreRequest><Days>%d</Days></RestoreRequest>" % days
    return c.request("POST", wc.key_path(bucket, key), "restore",
                     [("Content-Type", "application/xml"), ("Content-MD5", _md5(body))], body)


def put_archive(c, bucket, key, data):
    return assert_ok(c.put(bucket, key, data, headers={"x-wos-storage-class": "archive"}))


def test_archive_object_restore_cycle(arch_server):
    c = arch_server.client("wos4")
    b = make_bucket_name("arch")
    assert_ok(c.create_bucket(b))
    data = payload(100 * 1024, seed=7)
    put_archive(c, b, "cold", data)
    r = assert_ok(c.head(b, "cold"))
    assert r.header("x-wos-storage-class") == "Archive"
    assert r.header("x-wos-restore") is None and r.header("x-amz-restore") is None
    assert int(r.header("Content-Length")) == len(data)
    assert_error(c.get(b, "cold"), 403, "InvalidObjectState")
    aws = arch_server.client("aws4")
    assert_error(aws.get(b, "cold"), 403, "InvalidObjectState")
    assert assert_ok(aws.head(b, "cold")).header("x-amz-storage-class") == "Archive"

    started = time.time()
    r = restore(c, b, "cold", days=1)
    assert r.status == 202, r
    r = assert_ok(c.head(b, "cold"))
    assert r.header("x-wos-restore") == 'ongoing-request="true"'
    assert r.header("x-amz-restore") == 'ongoing-request="true"'   # what aws-sdk based WOS tools read
    assert_error(restore(c, b, "cold"), 409, "RestoreAlreadyInProgress")
    assert_error(c.get(b, "cold"), 403, "InvalidObjectState")

    def available():
        h = c.head(b, "cold").header("x-wos-restore") or ""
        return h.startswith('ongoing-request="false", expiry-date="')
    assert wc.wait_until(available, timeout=10), c.head(b, "cold")
    assert time.time() - started >= RESTORE_DELAY - 0.05
    expiry = c.head(b, "cold").header("x-wos-restore").split('expiry-date="')[1].rstrip('"')
    exp_at = email.utils.parsedate_to_datetime(expiry).timestamp()
    # ready after the delay, readable for Days (1) lifecycle days from then (second precision)
    assert started + RESTORE_DELAY + DAY - 1.5 <= exp_at <= time.time() + DAY + 1, (expiry, started)
    r = assert_ok(c.get(b, "cold"))
    assert r.body == data
    assert assert_ok(aws.get(b, "cold")).body == data
    # once available, a restore request answers 200 (WOS SDK: AVAILABLE)
    assert restore(c, b, "cold").status == 200

    # the restored copy expires after Days lifecycle days: archived again
    assert wc.wait_until(lambda: c.get(b, "cold").status == 403, timeout=3 * DAY + 5)
    r = assert_ok(c.head(b, "cold"))
    assert r.header("x-wos-restore") is None
    assert restore(c, b, "cold").status == 202


def test_restore_with_boto3(arch_server):
    s3 = arch_server.boto()
    b = make_bucket_name("arch-boto")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"glacier bytes", StorageClass="GLACIER")
    h = s3.head_object(Bucket=b, Key="k")
    assert h["StorageClass"] == "Archive" and "Restore" not in h
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="k")
    assert ei.value.response["Error"]["Code"] == "InvalidObjectState"
    r = s3.restore_object(Bucket=b, Key="k", RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": "Standard"}})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.head_object(Bucket=b, Key="k")["Restore"] == 'ongoing-request="true"'
    assert wc.wait_until(lambda: 'ongoing-request="false"' in s3.head_object(Bucket=b, Key="k").get("Restore", ""),
                         timeout=10)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"glacier bytes"


def test_restore_errors(arch_server):
    c = arch_server.client("wos4")
    b = make_bucket_name("arch-err")
    assert_ok(c.create_bucket(b))
    assert_ok(c.put(b, "std", b"standard"))
    assert_ok(c.put(b, "ia", b"ia", headers={"x-wos-storage-class": "IA"}))
    put_archive(c, b, "arc", b"archived")
    assert_error(restore(c, b, "std"), 403, "InvalidObjectState")
    assert_error(restore(c, b, "ia"), 403, "InvalidObjectState")
    assert_ok(c.get(b, "ia"))   # IA is readable without a restore
    assert_error(restore(c, b, "missing"), 404, "NoSuchKey")
    assert_error(restore(c, make_bucket_name("nob"), "k"), 404, "NoSuchBucket")
    assert_error(restore(c, b, "arc", body=b"<RestoreRequest><Days>0</Days></RestoreRequest>"), 400, "InvalidArgument")
    assert_error(restore(c, b, "arc", body=b"<RestoreRequest><Days>x</Days></RestoreRequest>"), 400, "InvalidArgument")
    assert_error(restore(c, b, "arc", body=b"<RestoreRequest></RestoreRequest>"), 400, "MalformedXML")
    assert_error(restore(c, b, "arc", body=b"<RestoreRequest>"), 400, "MalformedXML")
    # nothing above started a restore
    assert c.head(b, "arc").header("x-wos-restore") is None
    # a copy needs readable source bytes, as in S3
    r = c.request("PUT", wc.key_path(b, "copy"), "", [("x-wos-copy-source", "/%s/arc" % b)])
    assert_error(r, 403, "InvalidObjectState")
    # an overwrite forgets the restore; the new object is archived until restored
    assert restore(c, b, "arc").status == 202
    put_archive(c, b, "arc", b"new bytes")
    assert c.head(b, "arc").header("x-wos-restore") is None


def test_restore_survives_restart(server_factory, bucket_name):
    srv = server_factory("arch-restart", extra_args=("--archive-restore-delay", "1.5",
                                                     "--lifecycle-day-seconds", "60"))
    c = srv.client("wos4")
    b = bucket_name()
    assert_ok(c.create_bucket(b))
    put_archive(c, b, "k", b"persist")
    assert restore(c, b, "k").status == 202
    srv.restart()
    c = srv.client("wos4")
    assert c.head(b, "k").header("x-wos-restore"), "the restore in progress was forgotten by a restart"
    assert wc.wait_until(lambda: c.get(b, "k").status == 200, timeout=10)
    assert c.head(b, "k").header("x-wos-restore").startswith('ongoing-request="false"')
    srv.restart()
    c = srv.client("wos4")
    assert assert_ok(c.get(b, "k")).body == b"persist"


def test_restore_permission(server, bucket):
    from test_iam import Admin, allow, aws_policy
    c = server.client("wos4")
    put_archive(c, bucket, "a", b"x")
    admin = Admin(server)
    reader = admin.user(aws_policy(allow("s3:GetObject", "arn:aws:s3:::%s/*" % bucket)))
    restorer = admin.user(aws_policy(allow("wos:RestoreObject", "arn:aws:s3:::%s/*" % bucket)))
    assert_error(restore(reader.raw(), bucket, "a"), 403, "AccessDenied")
    assert restore(restorer.raw(), bucket, "a").status == 202


# ------------------------------------------------------------------------------ the lifecycle worker

LDAY = 1.0   # --lifecycle-day-seconds of the worker's server


@pytest.fixture(scope="module")
def lc_server():
    from conftest import WosdServer
    s = WosdServer("lcworker", extra_args=("--lifecycle-day-seconds", str(LDAY), "--lifecycle-interval", "0.1",
                                           "--lifecycle-batch", "10", "--archive-restore-delay", "0.3"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def _exists(c, b, k):
    st = c.head(b, k).status
    assert st in (200, 404), st
    return st == 200


def test_worker_expires_by_rule(lc_server):
    c = lc_server.client("aws4")
    b = make_bucket_name("lc-exp")
    assert_ok(c.create_bucket(b))
    t0 = time.time()
    for k in ("logs/a", "logs/b", "keep/c"):
        assert_ok(c.put(b, k, b"x" * 10))
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>2</Days></Expiration>", rid="logs-rule",
                                     filt="<Filter><Prefix>logs/</Prefix></Filter>")))
    # a write is told when it will expire, as in S3
    r = assert_ok(c.put(b, "logs/new", b"n"))
    assert (r.header("x-amz-expiration") or "").endswith('rule-id="logs-rule"'), r
    assert assert_ok(c.put(b, "keep/new", b"n")).header("x-amz-expiration") is None
    h = assert_ok(c.head(b, "logs/a")).header("x-amz-expiration")
    assert h and h.startswith('expiry-date="') and h.endswith('", rule-id="logs-rule"'), h
    exp_at = email.utils.parsedate_to_datetime(h.split('"')[1]).timestamp()
    assert t0 + 2 * LDAY - 1 <= exp_at <= time.time() + 2 * LDAY + 1, (h, t0)
    assert assert_ok(c.head(b, "keep/c")).header("x-amz-expiration") is None
    assert wc.wait_until(lambda: not _exists(c, b, "logs/a") and not _exists(c, b, "logs/b"), timeout=15)
    assert time.time() - t0 >= 2 * LDAY - 0.2, "expired before its days were up"
    assert _exists(c, b, "keep/c")


def test_worker_expires_by_size(lc_server):
    """Size bounds are exclusive (S3): an object of exactly a bound's size stays."""
    c = lc_server.client("aws4")
    s3 = lc_server.boto()
    b = make_bucket_name("lc-size")
    assert_ok(c.create_bucket(b))
    sizes = {"a/big": 2048, "a/small": 10, "a/edge": 1024, "b/100": 100, "b/500": 500, "b/1000": 1000,
             "c/big": 4096}
    for k, n in sizes.items():
        assert_ok(c.put(b, k, payload(n, seed=n)))
    rules = [
        {"ID": "big", "Filter": {"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 1024}}, "Status": "Enabled",
         "Expiration": {"Days": 2}},
        {"ID": "range", "Filter": {"And": {"Prefix": "b/", "ObjectSizeGreaterThan": 100, "ObjectSizeLessThan": 1000}},
         "Status": "Enabled", "Expiration": {"Days": 2}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert [{k: r[k] for k in ("ID", "Filter", "Status", "Expiration")} for r in got] == rules
    # reads and writes say which objects will expire, by their size
    assert (assert_ok(c.head(b, "a/big")).header("x-amz-expiration") or "").endswith('rule-id="big"')
    assert (assert_ok(c.head(b, "b/500")).header("x-amz-expiration") or "").endswith('rule-id="range"')
    for k in ("a/small", "a/edge", "b/100", "b/1000", "c/big"):
        assert assert_ok(c.head(b, k)).header("x-amz-expiration") is None, k
    r = assert_ok(c.put(b, "a/new", payload(5000, seed=1)))
    assert (r.header("x-amz-expiration") or "").endswith('rule-id="big"'), r
    assert assert_ok(c.put(b, "a/tiny", b"t")).header("x-amz-expiration") is None
    # the worker expires those in range and no other
    assert wc.wait_until(lambda: not any(_exists(c, b, k) for k in ("a/big", "b/500", "a/new")), timeout=15)
    time.sleep(2 * LDAY)   # the others had every chance to go too
    for k in ("a/small", "a/edge", "b/100", "b/1000", "c/big", "a/tiny"):
        assert _exists(c, b, k), k


def test_worker_expires_by_tag(lc_server):
    """A tag filter asks for every one of its tags, key and value; GET/HEAD/PUT report it."""
    c = lc_server.client("aws4")
    s3 = lc_server.boto()
    b = make_bucket_name("lc-tag")
    assert_ok(c.create_bucket(b))
    s3.put_object(Bucket=b, Key="t/both", Body=b"x", Tagging="temp=yes&team=a%20b")
    s3.put_object(Bucket=b, Key="t/one", Body=b"x", Tagging="temp=yes")
    s3.put_object(Bucket=b, Key="t/other", Body=b"x", Tagging="temp=no&team=a%20b")
    s3.put_object(Bucket=b, Key="t/none", Body=b"x")
    s3.put_object(Bucket=b, Key="u/both", Body=b"x", Tagging="temp=yes&team=a%20b")
    rules = [{"ID": "temp", "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "temp", "Value": "yes"},
                                                                         {"Key": "team", "Value": "a b"}]}},
              "Status": "Enabled", "Expiration": {"Days": 2}}]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    assert (assert_ok(c.head(b, "t/both")).header("x-amz-expiration") or "").endswith('rule-id="temp"')
    for k in ("t/one", "t/other", "t/none", "u/both"):
        assert assert_ok(c.head(b, k)).header("x-amz-expiration") is None, k
    # a write with the tags is told, one without is not; tags put later count from then on
    r = s3.put_object(Bucket=b, Key="t/new", Body=b"n", Tagging="team=a%20b&temp=yes")
    assert r.get("Expiration", "").endswith('rule-id="temp"'), r
    assert "Expiration" not in s3.put_object(Bucket=b, Key="t/plain", Body=b"n")
    s3.put_object_tagging(Bucket=b, Key="t/one", Tagging={"TagSet": [{"Key": "temp", "Value": "yes"},
                                                                     {"Key": "team", "Value": "a b"}]})
    assert (assert_ok(c.head(b, "t/one")).header("x-amz-expiration") or "").endswith('rule-id="temp"')
    gone = ("t/both", "t/new", "t/one")
    assert wc.wait_until(lambda: not any(_exists(c, b, k) for k in gone), timeout=15)
    time.sleep(2 * LDAY)   # the others had every chance to go too
    for k in ("t/other", "t/none", "u/both", "t/plain"):
        assert _exists(c, b, k), k


def test_tag_filter_matches_tags_however_given(server, bucket_name):
    """A rule's tags and an object's are compared as stored: characters that are percent-encoded
    (space, '/', '+', '=', ':', '@', non-ASCII) match whichever way the object got its tags."""
    s3 = server.boto()
    b = bucket_name("lc-tagenc")
    s3.create_bucket(Bucket=b)
    key, value = "a b/c+d=e:f@é", "x y/z+1=2:3@ü"
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "enc", "Filter": {"Tag": {"Key": key, "Value": value}}, "Status": "Enabled", "Expiration": {"Days": 3}}]})
    import urllib.parse
    header = urllib.parse.urlencode({key: value}, quote_via=urllib.parse.quote)
    s3.put_object(Bucket=b, Key="by-header", Body=b"x", Tagging=header)
    s3.put_object(Bucket=b, Key="by-api", Body=b"x")
    s3.put_object_tagging(Bucket=b, Key="by-api", Tagging={"TagSet": [{"Key": key, "Value": value}]})
    s3.put_object(Bucket=b, Key="other", Body=b"x", Tagging=urllib.parse.urlencode({key: value + "x"}))
    for k in ("by-header", "by-api"):
        assert s3.get_object_tagging(Bucket=b, Key=k)["TagSet"] == [{"Key": key, "Value": value}], k
        assert s3.head_object(Bucket=b, Key=k).get("Expiration", "").endswith('rule-id="enc"'), k
    assert "Expiration" not in s3.head_object(Bucket=b, Key="other")


def test_worker_transitions_then_archive(lc_server):
    c = lc_server.client("wos4")
    b = make_bucket_name("lc-tr")
    assert_ok(c.create_bucket(b))
    big = payload(200 * 1024, seed=11)
    assert_ok(c.put(b, "data/big", big))
    assert_ok(c.put(b, "data/small", b"tiny"))
    assert_ok(c.put(b, "other/x", b"stays standard"))
    # varies_by_storage_class: small objects transition too (S3's default would keep "tiny" back)
    assert_ok(put_lc(c, b, rule_xml("<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition>"
                                    "<Transition><Days>3</Days><StorageClass>Archive</StorageClass></Transition>",
                                    filt="<Filter><Prefix>data/</Prefix></Filter>"),
                     extra=[("x-wos-" + MIN_SIZE, "varies_by_storage_class")]))

    def cls(k):
        return c.head(b, k).header("x-wos-storage-class")
    assert wc.wait_until(lambda: cls("data/big") in ("IA", "Archive") and cls("data/small") in ("IA", "Archive"),
                         timeout=10)
    assert wc.wait_until(lambda: cls("data/big") == "Archive" and cls("data/small") == "Archive", timeout=15)
    assert cls("other/x") == "Standard"
    assert_error(c.get(b, "data/big"), 403, "InvalidObjectState")
    # listings show the new class too
    r = assert_ok(c.get(b, query="prefix=data%2F"))
    assert {wc.xtext(e, "StorageClass") for e in wc.xfindall(r.xml(), "Contents")} == {"Archive"}
    # and the bytes are intact once restored
    assert restore(c, b, "data/big").status == 202
    assert wc.wait_until(lambda: c.get(b, "data/big").status == 200, timeout=10)
    assert c.get(b, "data/big").body == big


def test_worker_keeps_small_objects_from_transitions(lc_server):
    """S3's default since September 2024: nothing under 128 KiB transitions, unless the rule names a
    size or the configuration says varies_by_storage_class; expiration is not held back."""
    s3 = lc_server.boto()
    buckets = {name: make_bucket_name("lc-min-" + name) for name in ("default", "varies", "sized")}
    for b in buckets.values():
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="d/small", Body=b"tiny")
        s3.put_object(Bucket=b, Key="d/under", Body=payload(128 * 1024 - 1, seed=2))
        s3.put_object(Bucket=b, Key="d/big", Body=payload(200 * 1024, seed=3))
        s3.put_object(Bucket=b, Key="e/small", Body=b"goes")
    ia = [{"Days": 1, "StorageClass": "STANDARD_IA"}]
    expire = {"ID": "exp", "Filter": {"Prefix": "e/"}, "Status": "Enabled", "Expiration": {"Days": 1}}
    put_lc_boto(s3, buckets["default"], [{"ID": "ia", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
                                          "Transitions": ia}, expire])
    put_lc_boto(s3, buckets["varies"], [{"ID": "ia", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
                                         "Transitions": ia}, expire], "varies_by_storage_class")
    put_lc_boto(s3, buckets["sized"], [{"ID": "ia", "Filter": {"And": {"Prefix": "d/", "ObjectSizeGreaterThan": 1}},
                                        "Status": "Enabled", "Transitions": ia}, expire])

    def cls(b, k):
        return norm_class(s3.head_object(Bucket=b, Key=k).get("StorageClass"))

    def gone(b, k):
        try:
            s3.head_object(Bucket=b, Key=k)
            return False
        except ClientError as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    for name in ("varies", "sized"):
        b = buckets[name]
        assert wc.wait_until(lambda: all(cls(b, k) == "IA" for k in ("d/small", "d/under", "d/big")), timeout=10), name
    b = buckets["default"]
    assert wc.wait_until(lambda: cls(b, "d/big") == "IA", timeout=10)
    assert wc.wait_until(lambda: all(gone(x, "e/small") for x in buckets.values()), timeout=10)
    time.sleep(2 * LDAY)   # the worker had every chance to move the small ones too
    assert cls(b, "d/small") == "Standard" and cls(b, "d/under") == "Standard"


def test_worker_aborts_stale_uploads(lc_server):
    s3 = lc_server.boto()
    b = make_bucket_name("lc-mpu")
    s3.create_bucket(Bucket=b)
    up = s3.create_multipart_upload(Bucket=b, Key="big/file")["UploadId"]
    s3.upload_part(Bucket=b, Key="big/file", UploadId=up, PartNumber=1, Body=payload(64 * 1024, seed=3))
    keep = s3.create_multipart_upload(Bucket=b, Key="elsewhere/file")["UploadId"]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "mpu", "Filter": {"Prefix": "big/"}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})

    def uploads():
        return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b).get("Uploads", [])]
    assert wc.wait_until(lambda: up not in uploads(), timeout=10)
    assert keep in uploads()
    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=b, Key="big/file", UploadId=up)
    assert ei.value.response["Error"]["Code"] == "NoSuchUpload"


def test_disabled_rule_does_nothing(lc_server):
    c = lc_server.client("aws4")
    b = make_bucket_name("lc-off")
    assert_ok(c.create_bucket(b))
    assert_ok(c.put(b, "p/k", b"v"))
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>1</Days></Expiration>", status="Disabled")))
    assert c.head(b, "p/k").header("x-amz-expiration") is None
    time.sleep(2 * LDAY)   # twice the rule's days: the worker had every chance to act
    assert _exists(c, b, "p/k")


def test_delete_after_days_header(lc_server):
    c = lc_server.client("wos4")
    b = make_bucket_name("lc-own")
    assert_ok(c.create_bucket(b))
    t0 = time.time()
    r = assert_ok(c.put(b, "two", b"2", headers={"x-wos-delete-after-days": "2"}))
    assert (r.header("x-wos-expiration") or "").startswith('expiry-date="'), r
    assert_ok(c.put(b, "now", b"0", headers={"x-wos-delete-after-days": "0"}))
    assert_ok(c.put(b, "sdk", b"s", headers={"x-wos-expires": "1"}))
    assert_ok(c.put(b, "never", b"n"))
    h = assert_ok(c.head(b, "two")).header("x-wos-expiration")
    assert h and h.startswith('expiry-date="') and "rule-id" not in h, h
    assert assert_ok(c.head(b, "never")).header("x-wos-expiration") is None
    assert_error(c.put(b, "bad", b"b", headers={"x-wos-delete-after-days": "-1"}), 400, "InvalidArgument")
    assert_error(c.put(b, "bad", b"b", headers={"x-wos-delete-after-days": "soon"}), 400, "InvalidArgument")
    assert wc.wait_until(lambda: not _exists(c, b, "now"), timeout=5)
    assert wc.wait_until(lambda: not _exists(c, b, "sdk"), timeout=10)
    assert wc.wait_until(lambda: not _exists(c, b, "two"), timeout=10)
    assert time.time() - t0 >= 2 * LDAY - 0.2
    assert _exists(c, b, "never")
    # an overwrite without the header clears the expiry
    assert_ok(c.put(b, "re", b"1", headers={"x-wos-delete-after-days": "1"}))
    assert_ok(c.put(b, "re", b"2"))
    time.sleep(1.5 * LDAY)
    assert _exists(c, b, "re")


def test_worker_walks_many_objects_across_restart(server_factory, bucket_name):
    srv = server_factory("lc-many", extra_args=("--lifecycle-day-seconds", "1", "--lifecycle-interval", "0.05",
                                                "--lifecycle-batch", "7"))
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    keys = ["k/%04d" % i for i in range(300)]
    for k in keys:
        s3.put_object(Bucket=b, Key=k, Body=b"v")
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "all", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}]})

    def left():
        return s3.list_objects_v2(Bucket=b).get("KeyCount", 0)
    # stop part way through, then let a restarted server finish the job
    assert wc.wait_until(lambda: left() < 300, timeout=10)
    srv.stop()
    srv.start(keep_port=True)
    s3 = srv.boto()
    assert wc.wait_until(lambda: left() == 0, timeout=30), left()


# ------------------------------------------------------------------------------ tiers


def blob_files(tier_dir):
    """Blob files (32 upper-case hex names) under TIER/blobs."""
    out = []
    for root, _, files in os.walk(os.path.join(tier_dir, "blobs")):
        out += [f for f in files if len(f) == 32]
    return sorted(out)


def test_each_class_writes_to_its_tier(server_factory, bucket_name, tmp_path):
    ia_dir = str(tmp_path / "ia-disk")
    srv = server_factory("tiers", extra_args=("--tier", "IA=" + ia_dir))
    data = srv.data_dir
    arch_dir = os.path.join(data, "tiers", "Archive")
    c = srv.client("wos4")
    b = bucket_name()
    assert_ok(c.create_bucket(b))
    base_std, base_ia, base_ar = blob_files(data), blob_files(ia_dir), blob_files(arch_dir)
    big = payload(300 * 1024, seed=21)
    assert_ok(c.put(b, "std", big))
    assert_ok(c.put(b, "ia", big, headers={"x-wos-storage-class": "IA"}))
    assert_ok(c.put(b, "arc", big, headers={"x-wos-storage-class": "Archive"}))
    assert_ok(c.put(b, "small-ia", b"inline", headers={"x-wos-storage-class": "IA"}))
    assert len(blob_files(data)) == len(base_std) + 1
    assert len(blob_files(ia_dir)) == len(base_ia) + 1
    assert len(blob_files(arch_dir)) == len(base_ar) + 1
    assert assert_ok(c.get(b, "ia")).body == big
    # a multipart upload's parts go to its class's tier
    s3 = srv.boto()
    up = s3.create_multipart_upload(Bucket=b, Key="mp", StorageClass="STANDARD_IA")["UploadId"]
    p1, p2 = payload(5 << 20, seed=1), payload(1 << 20, seed=2)
    e1 = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert len(blob_files(ia_dir)) == len(base_ia) + 3
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == p1 + p2
    # the configured tier is remembered: a restart without --tier still finds the bytes
    srv.stop()
    srv.extra_args = ()
    srv.start(keep_port=True)
    c = srv.client("wos4")
    assert assert_ok(c.get(b, "ia")).body == big
    with open(os.path.join(data, "tiers.conf")) as f:
        assert ia_dir in f.read()


def test_copy_onto_itself_moves_bytes_between_tiers(server_factory, bucket_name):
    srv = server_factory("tier-copy")
    data = srv.data_dir
    ia_dir = os.path.join(data, "tiers", "IA")
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    body = payload(256 * 1024, seed=5)
    s3.put_object(Bucket=b, Key="k", Body=body)
    std_before = blob_files(data)
    assert len(std_before) == 1 and blob_files(ia_dir) == []
    r = s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"}, StorageClass="STANDARD_IA")
    etag = s3.head_object(Bucket=b, Key="k")
    assert etag["StorageClass"] == "IA"
    assert len(blob_files(ia_dir)) == 1
    # the old blob goes to the gc queue with the switch, and the gc removes it
    assert wc.wait_until(lambda: blob_files(data) == [], timeout=10), blob_files(data)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == body
    # and back, the WOS way
    c = srv.client("wos4")
    assert_ok(c.request("PUT", wc.key_path(b, "k"), "", [("x-wos-copy-source", "/%s/k" % b),
                                                          ("x-wos-storage-class", "standard")]))
    assert c.head(b, "k").header("x-wos-storage-class") == "Standard"
    assert len(blob_files(data)) == 1
    assert wc.wait_until(lambda: blob_files(ia_dir) == [], timeout=10)
    assert c.get(b, "k").body == body


def test_lifecycle_transition_moves_bytes(server_factory, bucket_name):
    srv = server_factory("tier-lc", extra_args=("--lifecycle-day-seconds", "1", "--lifecycle-interval", "0.1",
                                                "--archive-restore-delay", "0.2"))
    data = srv.data_dir
    ia_dir, ar_dir = os.path.join(data, "tiers", "IA"), os.path.join(data, "tiers", "Archive")
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    single = payload(200 * 1024, seed=8)
    s3.put_object(Bucket=b, Key="d/single", Body=single)
    up = s3.create_multipart_upload(Bucket=b, Key="d/multi")["UploadId"]
    p1, p2 = payload(5 << 20, seed=9), payload(300 * 1024, seed=10)
    e1 = s3.upload_part(Bucket=b, Key="d/multi", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=b, Key="d/multi", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="d/multi", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    s3.put_object(Bucket=b, Key="d/inline", Body=b"small")
    etag_multi = s3.head_object(Bucket=b, Key="d/multi")["ETag"]
    assert len(blob_files(data)) == 3
    # varies_by_storage_class, so the inline object (no blob to move) transitions too
    put_lc_boto(s3, b, [{"ID": "cold", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
                         "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"}, {"Days": 3, "StorageClass": "GLACIER"}]}],
                "varies_by_storage_class")

    def classes():
        return {k: s3.head_object(Bucket=b, Key=k)["StorageClass"] for k in ("d/single", "d/multi", "d/inline")}
    assert wc.wait_until(lambda: set(classes().values()) <= {"IA", "Archive"}, timeout=10), classes()
    # in IA (unless already moved on): readable, bytes in the IA tier
    if set(classes().values()) == {"IA"}:
        assert s3.get_object(Bucket=b, Key="d/multi")["Body"].read() == p1 + p2
    assert wc.wait_until(lambda: set(classes().values()) == {"Archive"}, timeout=15), classes()
    assert wc.wait_until(lambda: len(blob_files(ar_dir)) == 3 and blob_files(data) == [] and blob_files(ia_dir) == [],
                         timeout=10), (blob_files(data), blob_files(ia_dir), blob_files(ar_dir))
    # the object is the same object: ETag, parts and bytes
    h = s3.head_object(Bucket=b, Key="d/multi")
    assert h["ETag"] == etag_multi
    for k in ("d/single", "d/multi"):
        s3.restore_object(Bucket=b, Key=k, RestoreRequest={"Days": 5})
    assert wc.wait_until(lambda: 'ongoing-request="false"' in s3.head_object(Bucket=b, Key="d/multi").get("Restore", ""),
                         timeout=10)
    assert wc.wait_until(lambda: 'ongoing-request="false"' in s3.head_object(Bucket=b, Key="d/single").get("Restore", ""),
                         timeout=10)
    assert s3.get_object(Bucket=b, Key="d/single")["Body"].read() == single
    assert s3.get_object(Bucket=b, Key="d/multi")["Body"].read() == p1 + p2
    assert s3.get_object(Bucket=b, Key="d/multi", PartNumber=2)["Body"].read() == p2


def test_crash_during_transition_keeps_the_object(server_factory, bucket_name):
    """SIGKILL while the worker moves an object's bytes to another tier: after a restart the object
    is whole (old or new blob, never a mix), the move completes, and no copy is left behind."""
    srv = server_factory("tier-crash", extra_args=("--lifecycle-day-seconds", "0.5", "--lifecycle-interval", "0.05"))
    data = srv.data_dir
    ia_dir = os.path.join(data, "tiers", "IA")
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    body = payload(48 << 20, seed=31)
    s3.put_object(Bucket=b, Key="big", Body=body)
    etag = s3.head_object(Bucket=b, Key="big")["ETag"]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "ia", "Filter": {}, "Status": "Enabled", "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"}]}]})
    tmp = os.path.join(ia_dir, "tmp")
    deadline = time.time() + 10
    while time.time() < deadline and not os.listdir(tmp) and not blob_files(ia_dir):
        time.sleep(0.001)
    srv.kill()
    srv.start(keep_port=True)
    s3 = srv.boto()
    h = s3.head_object(Bucket=b, Key="big")
    assert h["ETag"] == etag
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == body
    assert wc.wait_until(lambda: s3.head_object(Bucket=b, Key="big")["StorageClass"] == "IA", timeout=15)
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == body
    # once the gc has run, exactly one blob holds the bytes, in the IA tier; a restart's scrub
    # removes any copy the crash orphaned
    srv.restart()
    assert wc.wait_until(lambda: blob_files(data) == [] and len(blob_files(ia_dir)) == 1, timeout=10), \
        (blob_files(data), blob_files(ia_dir))
    assert srv.boto().get_object(Bucket=b, Key="big")["Body"].read() == body


def test_offline_scrub_sees_every_tier(server_factory, bucket_name, tmp_path):
    from test_crash import run_scrub
    arch = str(tmp_path / "archive-disk")
    srv = server_factory("tier-scrub", extra_args=("--tier", "Archive=" + arch))
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    for cls in ("STANDARD", "STANDARD_IA", "GLACIER"):
        s3.put_object(Bucket=b, Key=cls, Body=payload(100 * 1024), StorageClass=cls)
    assert len(blob_files(arch)) == 1
    assert srv.stop() == 0
    rc, doc, err = run_scrub(srv.data_dir, "--deep")
    assert rc == 0 and doc["clean"], doc
    assert doc["objects"] == 3 and doc["named_blobs"] == 3, doc
    # an orphan in a tier is found there too
    orphan = os.path.join(arch, "blobs", "AB", "AB" + "0" * 30)
    os.makedirs(os.path.dirname(orphan), exist_ok=True)
    with open(orphan, "wb") as f:
        f.write(b"stray")
    rc, doc, err = run_scrub(srv.data_dir)
    assert rc != 0 and doc["orphan_blobs"] == 1, doc


def test_expiration_header_follows_rule_changes_at_once(server, bucket_name):
    """Reads cache each bucket's parsed rules per thread: every change must show on the next
    request, whichever thread serves it."""
    c = server.client("aws4")
    b = bucket_name()
    assert_ok(c.create_bucket(b))
    assert_ok(c.put(b, "p/k", b"v"))

    def rule_ids():
        out = set()
        for _ in range(12):
            h = assert_ok(c.head(b, "p/k")).header("x-amz-expiration")
            out.add(h.split('rule-id="')[1].rstrip('"') if h else None)
        return out
    assert rule_ids() == {None}
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>10</Days></Expiration>", rid="first")))
    assert rule_ids() == {"first"}
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>10</Days></Expiration>", rid="second")))
    assert rule_ids() == {"second"}
    assert c.delete(b, query="lifecycle").status == 204
    assert rule_ids() == {None}
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>10</Days></Expiration>", rid="third")))
    assert rule_ids() == {"third"}
    # the rules go with the bucket: a new bucket of the same name has none
    assert c.delete(b, "p/k").status == 204
    assert c.delete(b).status == 204
    assert_ok(c.create_bucket(b))
    assert_ok(c.put(b, "p/k", b"v"))
    assert rule_ids() == {None}


def test_delete_after_days_on_multipart_upload(lc_server):
    c = lc_server.client("wos4")
    b = make_bucket_name("lc-mp-own")
    assert_ok(c.create_bucket(b))
    r = assert_ok(c.request("POST", wc.key_path(b, "mp"), "uploads", [("x-wos-delete-after-days", "2")]))
    up = wc.xtext(r.xml(), "UploadId")
    part = payload(64 * 1024, seed=4)
    r = assert_ok(c.request("PUT", wc.key_path(b, "mp"), "partNumber=1&uploadId=" + up, None, part))
    etag = r.header("ETag")
    assert_error(c.request("POST", wc.key_path(b, "bad"), "uploads", [("x-wos-delete-after-days", "x")]), 400,
                 "InvalidArgument")
    t0 = time.time()
    body = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
            "</CompleteMultipartUpload>" % etag).encode()
    assert_ok(c.request("POST", wc.key_path(b, "mp"), "uploadId=" + up, None, body))
    h = assert_ok(c.head(b, "mp"))
    assert (h.header("x-wos-expiration") or "").startswith('expiry-date="'), h
    assert not any(k.lower().startswith("x-wosd") for k in h.headers.keys())
    assert wc.wait_until(lambda: not _exists(c, b, "mp"), timeout=10)
    assert time.time() - t0 >= 2 * LDAY - 0.3


MIB = 1024 * 1024


def _boto_upload(s3, bucket, key, sizes):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i,
                                                      Body=payload(n, seed=i))["ETag"]}
             for i, n in enumerate(sizes, 1)]
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": parts})


def test_copy_and_complete_report_expiration(s3, bucket):
    """CopyObject and CompleteMultipartUpload write an object as PUT does, and S3 tells them too
    when it will expire (x-amz-expiration): by the new object's key, time and size (for Complete
    the total of the parts), and nothing when no rule applies."""
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "logs-rule", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 3}},
        {"ID": "big", "Filter": {"And": {"Prefix": "big/", "ObjectSizeGreaterThan": 5 * MIB}}, "Status": "Enabled",
         "Expiration": {"Days": 4}}]})
    s3.put_object(Bucket=bucket, Key="src", Body=b"x" * 10)

    def expiration(r, key):
        # the same as a HEAD of the new object says: its own time, not the source's
        assert r.get("Expiration") == s3.head_object(Bucket=bucket, Key=key).get("Expiration"), (key, r)
        return r.get("Expiration")

    def copy(key):
        return expiration(s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": "src"}), key)

    assert (copy("logs/copy") or "").endswith('", rule-id="logs-rule"')
    assert copy("keep/copy") is None
    assert (expiration(_boto_upload(s3, bucket, "logs/mp", [1024]), "logs/mp") or "").endswith('rule-id="logs-rule"')
    assert expiration(_boto_upload(s3, bucket, "keep/mp", [1024]), "keep/mp") is None
    # neither part is over 5 MiB, their total is
    assert (expiration(_boto_upload(s3, bucket, "big/mp", [5 * MIB, 1024]), "big/mp") or "").endswith('rule-id="big"')
    assert expiration(_boto_upload(s3, bucket, "big/small", [1024]), "big/small") is None


def test_copy_and_complete_report_expiration_wos(server):
    """The same in the WOS dialect: x-wos-expiration (and no x-amz- one), from a rule or from the
    write's own x-wos-delete-after-days."""
    c = server.client("wos4")
    b = make_bucket_name("exp-copy-wos")
    assert_ok(c.create_bucket(b))
    assert_ok(put_lc(c, b, rule_xml("<Expiration><Days>3</Days></Expiration>", rid="wos-rule")))
    assert_ok(c.put(b, "src", b"v"))

    def copy(key, headers=None):
        r = assert_ok(c.put(b, key, b"", headers=dict(headers or {}, **{"x-wos-copy-source": "/%s/src" % b})))
        assert r.header("x-amz-expiration") is None, r
        return r.header("x-wos-expiration")

    assert (copy("p/copy") or "").endswith('", rule-id="wos-rule"')
    own = copy("own/copy", {"x-wos-delete-after-days": "2"})
    assert own and own.startswith('expiry-date="') and "rule-id" not in own, own
    assert copy("q/copy") is None

    def complete(key, headers=None):
        r = assert_ok(c.request("POST", wc.key_path(b, key), "uploads", list((headers or {}).items())))
        up = wc.xtext(r.xml(), "UploadId")
        r = assert_ok(c.request("PUT", wc.key_path(b, key), "partNumber=1&uploadId=" + up, None, b"part"))
        body = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
                "</CompleteMultipartUpload>" % r.header("ETag")).encode()
        r = assert_ok(c.request("POST", wc.key_path(b, key), "uploadId=" + up, None, body))
        assert r.header("x-amz-expiration") is None, r
        # a retried Complete answers as the first did
        again = assert_ok(c.request("POST", wc.key_path(b, key), "uploadId=" + up, None, body))
        assert again.header("x-wos-expiration") == r.header("x-wos-expiration"), (r, again)
        return r.header("x-wos-expiration")

    assert (complete("p/mp") or "").endswith('", rule-id="wos-rule"')
    own = complete("own/mp", {"x-wos-delete-after-days": "2"})
    assert own and own.startswith('expiry-date="') and "rule-id" not in own, own
    assert complete("q/mp") is None


def test_concurrent_restores_start_once(arch_server):
    import concurrent.futures
    c = arch_server.client("wos4")
    b = make_bucket_name("arch-race")
    assert_ok(c.create_bucket(b))
    put_archive(c, b, "k", b"racing")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        statuses = list(ex.map(lambda _: restore(arch_server.client("wos4"), b, "k").status, range(8)))
    assert statuses.count(202) == 1, statuses
    assert set(statuses) <= {200, 202, 409}, statuses   # 200: arrived after the restore finished


# ------------------------------------------------------------------------------ real clients


@pytest.mark.clients
def test_aws_cli_lifecycle_and_restore(server, aws_cli, bucket, tmp_path):
    import json
    cfg = tmp_path / "lc.json"
    cfg.write_text(json.dumps({"Rules": [
        {"ID": "cli", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 3},
         "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]}))
    aws_cli("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
            "--lifecycle-configuration", "file://%s" % cfg)
    got = json.loads(aws_cli("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).out)
    assert got["Rules"][0]["ID"] == "cli" and got["Rules"][0]["Expiration"] == {"Days": 3}
    aws_cli("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    p = aws_cli("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=False)
    assert p.returncode != 0 and "NoSuchLifecycleConfiguration" in p.err
    src = tmp_path / "f.bin"
    src.write_bytes(b"archived by the cli")
    aws_cli("s3", "cp", str(src), "s3://%s/cold.bin" % bucket, "--storage-class", "GLACIER")
    p = aws_cli("s3", "cp", "s3://%s/cold.bin" % bucket, str(tmp_path / "back.bin"), check=False)
    assert p.returncode != 0 and "InvalidObjectState" in p.err
    aws_cli("s3api", "restore-object", "--bucket", bucket, "--key", "cold.bin", "--restore-request", '{"Days": 1}')
    head = json.loads(aws_cli("s3api", "head-object", "--bucket", bucket, "--key", "cold.bin").out)
    assert head["StorageClass"] == "Archive" and head["Restore"] == 'ongoing-request="true"'


@pytest.mark.clients
def test_s3cmd_lifecycle(server, s3cmd, bucket, tmp_path):
    cfg = tmp_path / "lc.xml"
    cfg.write_text(rule_xml("<Expiration><Days>9</Days></Expiration>", rid="s3cmd-rule"))
    s3cmd()("setlifecycle", str(cfg), "s3://%s" % bucket)
    out = s3cmd()("getlifecycle", "s3://%s" % bucket).out
    assert "s3cmd-rule" in out and "<Days>9</Days>" in out
    s3cmd()("dellifecycle", "s3://%s" % bucket)
    assert_error(server.client("aws4").get(bucket, query="lifecycle"), 404, "NoSuchLifecycleConfiguration")


def zst_files(tier_dir):
    out = []
    for root, _, files in os.walk(os.path.join(tier_dir, "blobs")):
        out += [os.path.join(root, f) for f in files if f.endswith(".zst")]
    return sorted(out)


def test_archive_transition_compresses(server_factory, bucket_name):
    from test_crash import run_scrub
    srv = server_factory("tier-zstd", extra_args=("--lifecycle-day-seconds", "0.5", "--lifecycle-interval", "0.05",
                                                  "--archive-restore-delay", "0"))
    data = srv.data_dir
    ar_dir = os.path.join(data, "tiers", "Archive")
    s3 = srv.boto()
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    text = b"".join(b"line %08d of a very compressible log file\n" % i for i in range(60000))   # ~2.6 MB
    random_bytes = payload(300 * 1024, seed=41)
    s3.put_object(Bucket=b, Key="log", Body=text)
    s3.put_object(Bucket=b, Key="noise", Body=random_bytes)
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "a", "Filter": {}, "Status": "Enabled", "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]})
    assert wc.wait_until(lambda: all(s3.head_object(Bucket=b, Key=k)["StorageClass"] == "Archive"
                                     for k in ("log", "noise")), timeout=15)
    # the text went in compressed, the noise as it was
    z = zst_files(ar_dir)
    assert len(z) == 1 and os.path.getsize(z[0]) < len(text) // 4, z
    assert len(blob_files(ar_dir)) == 1
    for k in ("log", "noise"):
        s3.restore_object(Bucket=b, Key=k, RestoreRequest={"Days": 30})
    assert wc.wait_until(lambda: all('ongoing-request="false"' in s3.head_object(Bucket=b, Key=k).get("Restore", "")
                                     for k in ("log", "noise")), timeout=10)
    assert s3.get_object(Bucket=b, Key="log")["Body"].read() == text
    assert s3.get_object(Bucket=b, Key="log", Range="bytes=1000000-1000099")["Body"].read() == text[1000000:1000100]
    assert s3.get_object(Bucket=b, Key="noise")["Body"].read() == random_bytes
    # the offline scrub reads through the compression: clean, and the MD5 matches
    assert srv.stop() == 0
    rc, doc, err = run_scrub(data, "--deep")
    assert rc == 0 and doc["clean"], doc
    # damage to the compressed file is an error, never wrong bytes
    with open(z[0], "r+b") as f:
        f.seek(os.path.getsize(z[0]) // 2)
        f.write(b"\xff\x00\xff\x00")
    srv.start(keep_port=True)
    s3 = srv.boto()
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="log")["Body"].read()
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # and an object deleted takes its compressed blob along
    s3.delete_object(Bucket=b, Key="log")
    assert wc.wait_until(lambda: zst_files(ar_dir) == [], timeout=10)
