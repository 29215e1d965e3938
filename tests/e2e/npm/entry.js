// Stock Uppy, exposed to the test page exactly as published on npm.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";

window.Uppy = Uppy;
window.AwsS3 = AwsS3;
